//! Reading the TOML text and the `KBBRIDGE__…` environment into one tree of values, with the
//! `config` crate (environment over file).

use std::path::Path;

use config::{Environment, File, FileFormat, Value};

use crate::{
    error::{ConfigError, Problems},
    path::KeyPath,
};

/// The prefix of environment variables that override keys of the file.
pub(crate) const ENV_PREFIX: &str = "KBBRIDGE";
/// What separates the prefix and the keys in those variables (`KBBRIDGE__DISCORD__TOKEN`).
pub(crate) const ENV_SEPARATOR: &str = "__";
/// The origin the `config` crate gives to values from the environment.
pub(crate) const ENV_ORIGIN: &str = "the environment";

/// The process's `KBBRIDGE__…` variables; those whose value is not UTF-8 are left out and
/// reported in `problems`.
pub(crate) fn process_env(problems: &mut Problems) -> Vec<(String, String)> {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !name.to_ascii_uppercase().starts_with(&prefix) {
            continue;
        }
        match value.into_string() {
            Ok(value) => vars.push((name.to_owned(), value)),
            Err(_) => problems.push(
                KeyPath::root(),
                format!("the environment variable {name} is not valid UTF-8"),
            ),
        }
    }
    vars
}

/// Parses `text` (the contents of `file`) and lays the environment variables `env` over it.
///
/// # Errors
/// [`ConfigError::Syntax`] for invalid TOML; [`ConfigError::Invalid`] if the environment cannot
/// be laid over the file.
pub(crate) fn read(
    text: &str,
    file: &Path,
    mut env: Vec<(String, String)>,
) -> Result<Value, ConfigError> {
    // Sorted, so that keys the environment adds come in the same order on every run.
    env.sort();
    let environment = Environment::with_prefix(ENV_PREFIX)
        .separator(ENV_SEPARATOR)
        .source(Some(env.into_iter().collect()));
    let built = config::Config::builder()
        .add_source(File::from_str(text, FileFormat::Toml))
        .add_source(environment)
        .build();
    match built {
        Ok(config) => Ok(config.cache),
        Err(config::ConfigError::FileParse { cause, .. }) => {
            Err(syntax_error(file, &cause.to_string()))
        }
        Err(other) => Err(ConfigError::Invalid {
            file: file.to_owned(),
            problems: vec![crate::Problem {
                path: String::new(),
                message: other.to_string(),
            }],
        }),
    }
}

/// Turns the TOML parser's message into a [`ConfigError::Syntax`]. The parser quotes the
/// offending source line; that line is dropped, since it may hold a token.
fn syntax_error(file: &Path, text: &str) -> ConfigError {
    let mut lines = text.lines();
    let position = lines
        .next()
        .and_then(|first| first.strip_prefix("TOML parse error at line "))
        .and_then(|rest| rest.split_once(", column "))
        .and_then(|(line, column)| Some((line.parse().ok()?, column.trim().parse().ok()?)));
    let message = match position {
        Some(_) => lines
            .filter(|line| !is_source_excerpt(line))
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        None => text.trim().to_owned(),
    };
    ConfigError::Syntax {
        file: file.to_owned(),
        line: position.map(|(line, _)| line),
        column: position.map(|(_, column)| column),
        message,
    }
}

/// Whether `line` is part of the parser's quote of the source: `  |`, `3 | text`, `  |   ^`.
fn is_source_excerpt(line: &str) -> bool {
    let rest = line
        .trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit());
    rest.trim_start().starts_with('|')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_keep_position_and_drop_the_source_line() {
        let text = "[discord]\ntoken = \"s3cret\nguild_id = 1\n";
        let Err(ConfigError::Syntax {
            line,
            column,
            message,
            ..
        }) = read(text, Path::new("x.toml"), Vec::new())
        else {
            panic!("not a syntax error");
        };
        assert_eq!(line, Some(2));
        assert!(column.is_some());
        assert!(!message.is_empty());
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = vec![("KBBRIDGE__DISCORD__TOKEN".to_owned(), "from-env".to_owned())];
        let root = read(
            "[discord]\ntoken = \"from-file\"\n",
            Path::new("x.toml"),
            env,
        )
        .unwrap();
        let token = crate::tree::string_at(&root, &KeyPath::root().key("discord").key("token"));
        assert_eq!(token.as_deref(), Some("from-env"));
    }
}
