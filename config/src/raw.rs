//! Stage one: the file as written. Each top-level section and each `[[link]]` table is
//! deserialized on its own, so a type error in one does not hide the problems of the others;
//! unknown keys are collected everywhere with `serde_ignored`.
//!
//! The `[keybase]`, `[discord]` and `[matrix]` sections are the adapters' own structs; the
//! sections this crate owns are mirrored here with every key optional, so that `validate.rs`
//! can say what is missing or out of range with the key's path.

use adapter_discord::config::DiscordConfig;
use adapter_keybase::config::KeybaseConfig;
use adapter_matrix::config::MatrixConfig;
use config::{Value, ValueKind};
use serde::{Deserialize, de::DeserializeOwned};

use crate::{error::Problems, path::KeyPath, tree, type_errors, unknown_keys};

/// The top-level keys of a mapping file.
pub(crate) const SECTIONS: [&str; 7] = [
    "database", "keybase", "discord", "matrix", "backfill", "admin", "link",
];

/// `[database]`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawDatabase {
    pub(crate) url: Option<String>,
    pub(crate) shared: Option<bool>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAdmin {
    pub(crate) listen: Option<String>,
    pub(crate) token: Option<String>,
}

/// `[backfill]`. Integers are read signed so that `-1` is "must be at least 1", not a type error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawBackfill {
    pub(crate) parallel_links: Option<i64>,
    pub(crate) page_size: Option<i64>,
    pub(crate) retry_attempts: Option<i64>,
    pub(crate) retry_min_delay_ms: Option<i64>,
    pub(crate) retry_max_delay_ms: Option<i64>,
    pub(crate) lease_seconds: Option<i64>,
    pub(crate) rate: Option<RawRates>,
}

/// `[backfill.rate]`: one optional table per target platform.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRates {
    pub(crate) discord: Option<RawRate>,
    pub(crate) matrix: Option<RawRate>,
    pub(crate) keybase: Option<RawRate>,
}

/// `[backfill.rate.<platform>]`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRate {
    pub(crate) messages_per_second: Option<f64>,
    pub(crate) burst: Option<i64>,
}

/// One `[[link]]` table.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLink {
    pub(crate) name: Option<String>,
    pub(crate) keybase: Option<String>,
    pub(crate) discord: Option<String>,
    pub(crate) matrix: Option<String>,
    pub(crate) mode: Option<String>,
}

/// A section as read.
#[derive(Debug)]
pub(crate) enum Section<T> {
    /// Not in the file (nor in the environment).
    Absent,
    /// There, but it could not be read; the problem is recorded.
    Invalid,
    /// There and read.
    Present(T),
}

impl<T> Section<T> {
    /// The section, if it was read.
    pub(crate) fn present(&self) -> Option<&T> {
        match self {
            Section::Present(value) => Some(value),
            _ => None,
        }
    }
}

/// The mapping file as written, section by section.
#[derive(Debug)]
pub(crate) struct RawConfig {
    pub(crate) database: Section<RawDatabase>,
    pub(crate) keybase: Section<KeybaseConfig>,
    pub(crate) discord: Section<DiscordConfig>,
    pub(crate) matrix: Section<MatrixConfig>,
    pub(crate) backfill: Section<RawBackfill>,
    pub(crate) admin: Section<RawAdmin>,
    /// One entry per `[[link]]` table; `None` for a table that could not be read.
    pub(crate) links: Vec<Option<RawLink>>,
}

impl RawConfig {
    /// Reads every section of `root`, recording in `problems` what cannot be read.
    ///
    /// A `[discord]` or `[matrix]` section that only the environment sets (an exported
    /// `KBBRIDGE__MATRIX__AS_TOKEN`, say) is ignored when no link names that platform, so a
    /// shell set up for one bridge does not break another's file.
    pub(crate) fn read(root: &Value, problems: &mut Problems) -> Self {
        let empty = config::Map::new();
        let table = match &root.kind {
            ValueKind::Table(table) => table,
            _ => &empty,
        };
        for key in table.keys().filter(|key| !SECTIONS.contains(&key.as_str())) {
            let path = KeyPath::root().key(key.as_str());
            problems.push(path.clone(), unknown_keys::message(&path, root));
        }
        let links = read_links(table.get("link"), root, problems);
        let uses_discord = links.iter().flatten().any(|link| link.discord.is_some());
        let uses_matrix = links.iter().flatten().any(|link| link.matrix.is_some());
        let section_value = |name: &str| {
            let value = table.get(name)?;
            let unused = match name {
                "discord" => !uses_discord,
                "matrix" => !uses_matrix,
                _ => false,
            };
            (!(unused && tree::only_from_env(value))).then_some(value)
        };
        Self {
            database: read_section(section_value("database"), "database", root, problems),
            keybase: read_section(section_value("keybase"), "keybase", root, problems),
            discord: read_section(section_value("discord"), "discord", root, problems),
            matrix: read_section(section_value("matrix"), "matrix", root, problems),
            backfill: read_section(section_value("backfill"), "backfill", root, problems),
            admin: read_section(section_value("admin"), "admin", root, problems),
            links,
        }
    }
}

fn read_section<T: DeserializeOwned>(
    value: Option<&Value>,
    name: &str,
    root: &Value,
    problems: &mut Problems,
) -> Section<T> {
    match value {
        None => Section::Absent,
        Some(value) => match deserialize(value, &KeyPath::root().key(name), root, problems) {
            Some(section) => Section::Present(section),
            None => Section::Invalid,
        },
    }
}

/// `[[link]]` must be a non-empty array of tables; each is read on its own.
fn read_links(
    value: Option<&Value>,
    root: &Value,
    problems: &mut Problems,
) -> Vec<Option<RawLink>> {
    let path = KeyPath::root().key("link");
    match value.map(|v| &v.kind) {
        None => {
            problems.push(path, "no [[link]] table: nothing to copy");
            Vec::new()
        }
        Some(ValueKind::Array(links)) if links.is_empty() => {
            problems.push(path, "no [[link]] table: nothing to copy");
            Vec::new()
        }
        Some(ValueKind::Array(links)) => links
            .iter()
            .enumerate()
            .map(|(i, link)| deserialize(link, &path.index(i), root, problems))
            .collect(),
        Some(ValueKind::Table(_)) => {
            problems.push(
                path,
                "must be an array of tables: write [[link]], with two brackets",
            );
            Vec::new()
        }
        Some(_) => {
            problems.push(path, "must be an array of [[link]] tables");
            Vec::new()
        }
    }
}

/// Deserializes `value` (at `path`), recording its unknown keys and any error in `problems`.
fn deserialize<T: DeserializeOwned>(
    value: &Value,
    path: &KeyPath,
    root: &Value,
    problems: &mut Problems,
) -> Option<T> {
    let mut unknown = Vec::new();
    let result = serde_ignored::deserialize(value.clone(), |ignored| {
        unknown.push(path.join(&unknown_keys::to_key_path(&ignored)));
    });
    for key in unknown {
        let message = unknown_keys::message(&key, root);
        problems.push(key, message);
    }
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            let (at, message) = type_errors::describe(error);
            problems.push(path.join(&at), message);
            None
        }
    }
}
