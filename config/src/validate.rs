//! Stage two: from the file as written ([`RawConfig`]) to a [`Config`], checking each section
//! against the links that need it, and reporting every problem at once, in file order.

use std::path::{Path, PathBuf};

use adapter_discord::config::DiscordConfig;
use adapter_keybase::config::KeybaseConfig;
use adapter_matrix::config::MatrixConfig;
use config::Value;

use crate::{
    Config, ConfigError, Problem, admin, backfill, database,
    error::Problems,
    links::{self, Usage, describe},
    path::KeyPath,
    raw::{RawConfig, Section},
    tree,
};

/// Validates the loaded tree `root` of the mapping file `file`, whose relative paths resolve
/// against `dir`. `problems` may already hold problems found while loading.
pub(crate) fn validate(
    root: &Value,
    file: PathBuf,
    dir: &Path,
    mut problems: Problems,
) -> Result<Config, ConfigError> {
    let raw = RawConfig::read(root, &mut problems);
    let (links, usage) = links::check(&raw.links, &mut problems);
    let keybase = keybase(raw.keybase, &usage, dir, &mut problems);
    let discord = discord(raw.discord, &usage, dir, &mut problems);
    let matrix = matrix(raw.matrix, &usage, &mut problems);
    let database = KeyPath::root().key("database");
    let url = raw.database.present().and_then(|d| d.url.as_deref());
    let database_url = database::resolve(url, dir, &database.key("url"), &mut problems);
    let shared = raw.database.present().and_then(|d| d.shared) == Some(true);
    database::check_shared(
        shared,
        &database_url,
        &database.key("shared"),
        &mut problems,
    );
    let backfill = backfill::options(
        raw.backfill.present(),
        &KeyPath::root().key("backfill"),
        &mut problems,
    );
    let admin = admin::check(
        raw.admin.present(),
        &KeyPath::root().key("admin"),
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            problems: finish(problems, root),
            file,
        });
    }
    Ok(Config {
        path: file,
        database_url,
        shared,
        keybase,
        discord,
        matrix,
        backfill,
        admin,
        links,
    })
}

/// Records an adapter's own findings about its section (keys relative to `section`).
fn push_all(section: &KeyPath, found: Vec<(String, String)>, problems: &mut Problems) {
    for (key, message) in found {
        let path = key
            .split('.')
            .fold(section.clone(), |path, key| path.key(key));
        problems.push(path, message);
    }
}

fn keybase(
    section: Section<KeybaseConfig>,
    usage: &Usage,
    dir: &Path,
    problems: &mut Problems,
) -> Option<KeybaseConfig> {
    let path = KeyPath::root().key("keybase");
    let invalid = matches!(section, Section::Invalid);
    let mut config = match section {
        Section::Present(config) => Some(config),
        _ => None,
    };
    if let Some(config) = &mut config {
        config.resolve_paths(dir);
        push_all(&path, config.problems(), problems);
    }
    let has_export = config.as_ref().is_some_and(|c| c.export.is_some());
    if !usage.backfill.is_empty() && !invalid && !has_export {
        let message = format!(
            "missing, needed by {} (a backfill reads a Keybase export): set it to the export \
             file or folder",
            describe(&usage.backfill)
        );
        problems.push(path.key("export"), message);
    }
    config
}

fn discord(
    section: Section<DiscordConfig>,
    usage: &Usage,
    dir: &Path,
    problems: &mut Problems,
) -> Option<DiscordConfig> {
    let path = KeyPath::root().key("discord");
    let users = describe(&usage.discord);
    match section {
        Section::Absent if !usage.discord.is_empty() => {
            let message = format!(
                "missing section, needed by {users}: add [discord] with guild_id, and set the \
                 token with env KBBRIDGE__DISCORD__TOKEN"
            );
            problems.push(path, message);
            None
        }
        Section::Absent | Section::Invalid => None,
        Section::Present(mut config) => {
            config.resolve_paths(dir);
            push_all(&path, config.problems(), problems);
            if !usage.discord.is_empty() && config.token.is_empty() {
                let message = format!(
                    "missing, needed by {users}: set discord.token or env KBBRIDGE__DISCORD__TOKEN"
                );
                problems.push(path.key("token"), message);
            }
            Some(config)
        }
    }
}

fn matrix(
    section: Section<MatrixConfig>,
    usage: &Usage,
    problems: &mut Problems,
) -> Option<MatrixConfig> {
    let path = KeyPath::root().key("matrix");
    let users = describe(&usage.matrix);
    match section {
        Section::Absent if !usage.matrix.is_empty() => {
            let message = format!(
                "missing section, needed by {users}: add [matrix] with homeserver and \
                 server_name, and set the tokens with env KBBRIDGE__MATRIX__AS_TOKEN and \
                 KBBRIDGE__MATRIX__HS_TOKEN"
            );
            problems.push(path, message);
            None
        }
        Section::Absent | Section::Invalid => None,
        Section::Present(config) => {
            push_all(&path, config.problems(), problems);
            for name in config.users.keys() {
                if let Err(why) = adapter_keybase::config::check_username(name) {
                    let message = format!("{name:?} is not a Keybase username: {why}");
                    problems.push(path.key("users").key(name.as_str()), message);
                }
            }
            if !usage.matrix.is_empty() {
                let missing = [
                    (
                        "homeserver",
                        config.homeserver.is_none(),
                        "the homeserver's URL, e.g. \"http://127.0.0.1:8008\"",
                    ),
                    (
                        "server_name",
                        config.server_name.is_none(),
                        "the homeserver's name, e.g. \"example.org\"",
                    ),
                    (
                        "as_token",
                        config.as_token.is_empty(),
                        "set matrix.as_token or env KBBRIDGE__MATRIX__AS_TOKEN",
                    ),
                    (
                        "hs_token",
                        config.hs_token.is_empty(),
                        "set matrix.hs_token or env KBBRIDGE__MATRIX__HS_TOKEN",
                    ),
                ];
                for (key, is_missing, hint) in missing {
                    if is_missing {
                        problems.push(path.key(key), format!("missing, needed by {users}: {hint}"));
                    }
                }
            }
            Some(config)
        }
    }
}

/// Secrets at least this long are masked wherever they appear in a message; shorter ones (test
/// placeholders) only where a message quotes them whole.
const MASK_ANYWHERE_FROM: usize = 8;

/// The problems for [`ConfigError::Invalid`]: in file order, without duplicates, and with any
/// secret of the file or the environment masked (a serde message may quote a value).
fn finish(problems: Problems, root: &Value) -> Vec<Problem> {
    let secret_keys = [
        ("discord", "token"),
        ("matrix", "as_token"),
        ("matrix", "hs_token"),
        ("admin", "token"),
    ];
    let mut secrets: Vec<String> = secret_keys
        .iter()
        .filter_map(|(section, key)| {
            tree::string_at(root, &KeyPath::root().key(*section).key(*key))
        })
        .collect();
    if let Some(url) = tree::string_at(root, &KeyPath::root().key("database").key("url")) {
        secrets.extend(database::passwords(&url));
    }
    secrets.retain(|s| !s.is_empty());
    let mask = |message: String, secret: &String| {
        if secret.chars().count() >= MASK_ANYWHERE_FROM {
            message.replace(secret.as_str(), "***")
        } else {
            // A short placeholder ("a") would mangle every message: mask it as a whole value.
            message.replace(&format!("{secret:?}"), "\"***\"")
        }
    };

    let mut problems = problems.0;
    problems.sort_by_cached_key(|(path, _)| (tree::file_order(root, path), path.clone()));
    problems.dedup();
    problems
        .into_iter()
        .map(|(path, message)| Problem {
            path: path.to_string(),
            message: secrets.iter().fold(message, mask),
        })
        .collect()
}
