//! A client of the local `keybase` executable: one long-lived `chat api` (or `team api`)
//! process per [`ApiProcess`] (JSON lines in, JSON lines out, keybase.md §1), and one-shot
//! commands (`id -j`, `list-following -j`, `git list`, `fs ls -w`) through
//! [`KeybaseCli::run`].
//!
//! - `process.rs`: [`ApiProcess`], the persistent child: timeouts, `{"error": …}` replies as
//!   [`ClientError::Api`], one restart when the process dies.
//! - `requests.rs`: the request options and reply shapes used.
//! - `error.rs`: [`ClientError`].

mod error;
mod process;
pub mod requests;

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Command;

pub use self::{error::ClientError, process::ApiProcess};
use crate::config::KeybaseConfig;

/// How long a one-shot command or an API request may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the `keybase` executable is and how to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeybaseCli {
    /// The executable (`keybase`, looked up on `PATH`, or a path).
    pub binary: PathBuf,
    /// `--home DIR`, when set.
    pub home: Option<PathBuf>,
    /// The longest a request or command may take.
    pub timeout: Duration,
}

impl Default for KeybaseCli {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("keybase"),
            home: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl KeybaseCli {
    /// The client the `[keybase]` section describes.
    pub fn from_config(config: &KeybaseConfig) -> Self {
        Self {
            binary: config.binary.clone(),
            home: config.home.clone(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `binary [--home DIR] args…`, with piped output and killed when dropped.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        if let Some(home) = &self.home {
            cmd.arg("--home").arg(home);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs a one-shot command (`["id", "-j"]`) and returns its standard output.
    ///
    /// # Errors
    /// [`ClientError::Spawn`], [`ClientError::Timeout`], and [`ClientError::Command`] when it
    /// exits with an error.
    pub async fn run(&self, args: &[&str]) -> Result<String, ClientError> {
        let command = args.join(" ");
        let child = self
            .command(args)
            .spawn()
            .map_err(|source| ClientError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| ClientError::Timeout {
                method: command.clone(),
                timeout: self.timeout,
            })?
            .map_err(|source| ClientError::Io {
                command: command.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(ClientError::Command {
                command,
                status: output.status.to_string(),
                stderr: error::excerpt(String::from_utf8_lossy(&output.stderr).trim()),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A `keybase chat api` process (started on the first request).
    pub fn chat_api(&self) -> ApiProcess {
        ApiProcess::new(self.clone(), &["chat", "api"])
    }

    /// A `keybase team api` process (started on the first request).
    pub fn team_api(&self) -> ApiProcess {
        ApiProcess::new(self.clone(), &["team", "api"])
    }
}
