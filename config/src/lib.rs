//! kbbridge's mapping file: which Keybase chats go where, and how to reach each platform.
//!
//! The file is TOML, read with the `config` crate; environment variables named
//! `KBBRIDGE__<SECTION>__<KEY>` override its keys, which is how secrets are meant to be given
//! (`KBBRIDGE__DISCORD__TOKEN`, `KBBRIDGE__MATRIX__AS_TOKEN`, `KBBRIDGE__DATABASE__URL`). Each
//! adapter owns its section (`[keybase]`, `[discord]`, `[matrix]`); this crate owns
//! `[database]`, `[backfill]` and `[[link]]`, and checks the sections against the links.
//!
//! Loading goes in two stages, like ripgrep's low-level then high-level arguments: `raw`
//! reads each section on its own (so one bad section does not hide the problems of the others),
//! then `validate` checks everything and builds a [`Config`]. A refused file gives a
//! [`ConfigError`] listing **every** problem, each with its key path:
//!
//! ```text
//! error in kbbridge.toml:
//!   - link[1].discrod: unknown key (did you mean "discord"?)
//!   - link[2].matrix: "room" is not a Matrix room ID (!id:server), alias (#name:server) or "auto"
//! ```
//!
//! No message and no `Debug` output holds a secret's value. `config/examples/` has a documented
//! file with every key (`full.toml`).
//!
//! # Layout
//! - `source.rs`: reads the TOML text and the `KBBRIDGE__…` environment into one value tree.
//! - `raw.rs`: stage one, the serde mirror of the file, read section by section.
//! - `unknown_keys.rs`: unknown keys and their "did you mean" (`suggest.rs`).
//! - `type_errors.rs`: the `config` crate's type errors, in TOML words with full paths.
//! - `validate.rs`: stage two, the checks across sections; `links.rs`, `backfill.rs` and
//!   `database.rs` check the sections this crate owns.
//! - `model.rs`: the result, [`Config`] and [`LinkConfig`].
//! - `error.rs`: [`ConfigError`] and [`Problem`]; `path.rs`: key paths; `tree.rs`: walking the
//!   value tree (lookups, file order, origins).

#![warn(missing_docs)]

pub mod admin;
mod backfill;
mod database;
mod error;
mod links;
mod model;
mod path;
mod raw;
mod source;
mod suggest;
mod tree;
mod type_errors;
mod unknown_keys;
mod validate;

use std::path::{Path, PathBuf};

use crate::error::Problems;
pub use crate::{
    error::{ConfigError, Problem},
    model::{AUTO, Config, LinkConfig},
};

/// Loads and validates the mapping file at `path`, with the process's `KBBRIDGE__…`
/// environment variables laid over it. Relative paths in the file resolve against its folder.
///
/// # Errors
/// [`ConfigError::Read`] if the file cannot be read, [`ConfigError::Syntax`] if it is not TOML,
/// [`ConfigError::Invalid`] with every problem found otherwise.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();
    let env = source::process_env(&mut problems);
    load_file(path, env, problems)
}

/// [`load`], with the environment variables `env` instead of the process's: tests use it to set
/// secrets without touching the process environment. Only names starting with `KBBRIDGE__`
/// (in any case) are used.
///
/// # Errors
/// As [`load`].
pub fn load_with_env<K, V>(
    path: &Path,
    env: impl IntoIterator<Item = (K, V)>,
) -> Result<Config, ConfigError>
where
    K: Into<String>,
    V: Into<String>,
{
    let env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    load_file(path, env, Problems::default())
}

/// Validates the mapping file text `toml`, without any environment variables. `origin_name`
/// names it in messages and in [`Config::path`]; relative paths resolve against its folder (the
/// current folder if it has none).
///
/// # Errors
/// [`ConfigError::Syntax`] if `toml` is not TOML, [`ConfigError::Invalid`] with every problem
/// found otherwise.
pub fn load_str(toml: &str, origin_name: &str) -> Result<Config, ConfigError> {
    load_text(
        toml,
        PathBuf::from(origin_name),
        Vec::new(),
        Problems::default(),
    )
}

fn load_file(
    path: &Path,
    env: Vec<(String, String)>,
    problems: Problems,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_owned(),
        source,
    })?;
    load_text(&text, path.to_owned(), env, problems)
}

fn load_text(
    text: &str,
    file: PathBuf,
    env: Vec<(String, String)>,
    problems: Problems,
) -> Result<Config, ConfigError> {
    let root = source::read(text, &file, env)?;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    validate::validate(&root, file, &dir, problems)
}
