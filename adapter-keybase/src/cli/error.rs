//! What can go wrong talking to the `keybase` executable.

use std::{path::PathBuf, time::Duration};

/// An error of the Keybase client (`keybase chat api` and one-shot commands).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The executable could not be started.
    #[error(
        "cannot start `{}`; install Keybase, or point `[keybase] binary` / `--binary` at the \
         `keybase` executable",
        .binary.display()
    )]
    Spawn {
        /// The executable.
        binary: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The service answered `{"error": …}` (a chat service error: the process carries on).
    #[error("keybase {method} failed: {message} (code {code})")]
    Api {
        /// The method called.
        method: String,
        /// The error code (0 for chat service errors).
        code: i64,
        /// The service's message.
        message: String,
    },
    /// The API process ended, was restarted once, and ended again (or could not be restarted).
    #[error(
        "the `keybase {command}` process ended during `{method}` even after a restart ({status}); \
         its last error output: {stderr}; check that the Keybase service runs and you are \
         logged in (`keybase status`)"
    )]
    Died {
        /// `chat api`, `team api`.
        command: String,
        /// The method being called.
        method: String,
        /// The exit status, as text.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// The API process ended during a request that is never replayed (a write): whether
    /// Keybase did it is unknown until the conversation is read back.
    #[error(
        "the `keybase {command}` process ended during `{method}` ({status}); whether Keybase \
         did it is unknown; its last error output: {stderr}"
    )]
    Ended {
        /// `chat api`.
        command: String,
        /// The method being called.
        method: String,
        /// The exit status, as text.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// No reply came in time; the process was stopped.
    #[error("keybase {method} gave no reply within {timeout:?}; the process was stopped")]
    Timeout {
        /// The method called.
        method: String,
        /// The time waited.
        timeout: Duration,
    },
    /// A reply that is not the JSON expected.
    #[error("keybase {method} replied something unexpected ({detail}): {excerpt}")]
    BadReply {
        /// The method called.
        method: String,
        /// What is wrong with it.
        detail: String,
        /// The start of the reply.
        excerpt: String,
    },
    /// A one-shot command (`keybase id -j`…) exited with an error.
    #[error("`keybase {command}` failed ({status}): {stderr}")]
    Command {
        /// The command line after `keybase`.
        command: String,
        /// The exit status, as text.
        status: String,
        /// Its standard error.
        stderr: String,
    },
    /// Reading from or writing to the process failed.
    #[error("talking to `keybase {command}` failed")]
    Io {
        /// The command.
        command: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// Whether the service refused the request itself (the process is fine, the request is not).
    pub fn is_service_error(&self) -> bool {
        matches!(self, ClientError::Api { .. })
    }
}

/// The first 200 characters of `text`, for messages.
pub(crate) fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}
