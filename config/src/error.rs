//! Why a mapping file was refused: every problem at once, each with its key path.

use std::{fmt, io, path::PathBuf};

use crate::path::KeyPath;

/// One thing wrong in the mapping file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: the TOML key path, e.g. `link[2].matrix` (empty for the file as a whole).
    pub path: String,
    /// What, in a sentence; never a secret's value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A mapping file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("error in {}: cannot read it", file.display())]
    Read {
        /// The mapping file.
        file: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("error in {}: {}", file.display(), syntax_message(*line, *column, message))]
    Syntax {
        /// The mapping file.
        file: PathBuf,
        /// The line of the error (1-based), when the TOML parser gave one.
        line: Option<usize>,
        /// The column of the error (1-based), when the TOML parser gave one.
        column: Option<usize>,
        /// The parser's explanation, without the quoted source line (it could hold a token).
        message: String,
    },
    /// The file is valid TOML but not a valid mapping file.
    #[error("error in {}:{}", file.display(), ProblemLines(problems))]
    Invalid {
        /// The mapping file.
        file: PathBuf,
        /// Everything wrong with it, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The mapping file concerned.
    pub fn file(&self) -> &std::path::Path {
        match self {
            Self::Read { file, .. } | Self::Syntax { file, .. } | Self::Invalid { file, .. } => {
                file
            }
        }
    }

    /// The problems of an [`Invalid`](Self::Invalid) file; empty for the other kinds.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn syntax_message(line: Option<usize>, column: Option<usize>, message: &str) -> String {
    match (line, column) {
        (Some(line), Some(column)) => {
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        _ => format!("invalid TOML: {message}"),
    }
}

/// Problems as `\n  - path: message` lines.
struct ProblemLines<'a>(&'a [Problem]);

impl fmt::Display for ProblemLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// The problems found so far, with their paths still structured (for sorting).
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<(KeyPath, String)>);

impl Problems {
    /// Records a problem at `path`.
    pub(crate) fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push((path, message.into()));
    }

    /// Whether nothing is wrong so far.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_one_problem_per_line() {
        let err = ConfigError::Invalid {
            file: "kbbridge.toml".into(),
            problems: vec![
                Problem {
                    path: "link[1].discrod".into(),
                    message: "unknown key".into(),
                },
                Problem {
                    path: String::new(),
                    message: "no links".into(),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "error in kbbridge.toml:\n  - link[1].discrod: unknown key\n  - no links"
        );
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = ConfigError::Syntax {
            file: "a.toml".into(),
            line: Some(3),
            column: Some(7),
            message: "expected `=`".into(),
        };
        assert_eq!(
            err.to_string(),
            "error in a.toml: invalid TOML at line 3, column 7: expected `=`"
        );
    }
}
