//! One long-lived `keybase chat api` (or `team api`) child: write one JSON request line, read
//! one JSON reply line (keybase.md §1.1–1.3).
//!
//! A reply `{"error": …}` is a service error ([`ClientError::Api`]); the process carries on.
//! A process that ends (a validation error ends it, as does a crash) is started again once for
//! the same request; if it ends again the call fails with its last error output. Requests are
//! therefore replayed after a restart: use this for idempotent requests (reads, downloads).

use std::{collections::VecDeque, sync::Arc};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, ChildStdout},
    sync::Mutex,
};
use tracing::{debug, warn};

use super::{
    KeybaseCli,
    error::{ClientError, excerpt},
};

/// How many lines of the child's standard error are kept for error messages.
const STDERR_LINES: usize = 20;

/// A running child.
struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The task collecting stderr; it ends when the process closes it.
    stderr_task: tokio::task::JoinHandle<()>,
}

/// A persistent `keybase … api` process, started on the first call.
pub struct ApiProcess {
    cli: KeybaseCli,
    args: Vec<String>,
    running: Option<Running>,
    requests: u64,
    starts: u64,
}

impl std::fmt::Debug for ApiProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiProcess")
            .field("command", &self.args.join(" "))
            .field("running", &self.running.is_some())
            .field("requests", &self.requests)
            .field("starts", &self.starts)
            .finish()
    }
}

#[derive(Serialize)]
struct Request<'a, T> {
    method: &'a str,
    params: Params<'a, T>,
}

#[derive(Serialize)]
struct Params<'a, T> {
    version: u8,
    options: &'a T,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    error: Option<CallError>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct CallError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// What one attempt came to.
enum Attempt {
    Line(String),
    /// The process ended (or its pipes broke).
    Ended,
}

impl ApiProcess {
    /// A process running `binary [--home H] args` once needed.
    pub fn new(cli: KeybaseCli, args: &[&str]) -> Self {
        Self {
            cli,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            running: None,
            requests: 0,
            starts: 0,
        }
    }

    /// Requests sent so far (replays after a restart included).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Times the process was started.
    pub fn starts(&self) -> u64 {
        self.starts
    }

    fn command_name(&self) -> String {
        self.args.join(" ")
    }

    /// Calls `method` with `options`; the reply's `result` (raw JSON, `null` when absent).
    ///
    /// # Errors
    /// [`ClientError::Api`] for an `{"error": …}` reply; [`ClientError::Died`] when the
    /// process ends twice; [`ClientError::Timeout`]; [`ClientError::BadReply`];
    /// [`ClientError::Spawn`].
    pub async fn call<T: Serialize>(
        &mut self,
        method: &str,
        options: &T,
    ) -> Result<Box<RawValue>, ClientError> {
        let line = request_line(method, options)?;
        let mut restarted = false;
        loop {
            match self.attempt(method, &line).await? {
                Attempt::Line(reply) => return parse_reply(method, &reply),
                Attempt::Ended => {
                    let (status, stderr) = self.reap().await;
                    if restarted {
                        return Err(ClientError::Died {
                            command: self.command_name(),
                            method: method.to_owned(),
                            status,
                            stderr,
                        });
                    }
                    warn!(command = %self.command_name(), method, status = %status,
                        stderr = %stderr, "keybase api process ended, restarting it once");
                    restarted = true;
                }
            }
        }
    }

    /// Calls `method` once, never replaying it: for requests that must not be made twice
    /// (`send`, `edit`, `reaction`, `delete`, `attach`). When the process ends during the call,
    /// whether the service did the request is unknown: the error says so, and the next call
    /// starts a new process.
    ///
    /// # Errors
    /// As [`ApiProcess::call`]; [`ClientError::Ended`] at the first end of the process.
    pub async fn call_once<T: Serialize>(
        &mut self,
        method: &str,
        options: &T,
    ) -> Result<Box<RawValue>, ClientError> {
        let line = request_line(method, options)?;
        match self.attempt(method, &line).await? {
            Attempt::Line(reply) => parse_reply(method, &reply),
            Attempt::Ended => {
                let (status, stderr) = self.reap().await;
                Err(ClientError::Ended {
                    command: self.command_name(),
                    method: method.to_owned(),
                    status,
                    stderr,
                })
            }
        }
    }

    async fn attempt(&mut self, method: &str, line: &str) -> Result<Attempt, ClientError> {
        if self.running.is_none() {
            self.running = Some(self.start()?);
        }
        let Some(running) = self.running.as_mut() else {
            return Ok(Attempt::Ended);
        };
        self.requests += 1;
        debug!(command = %self.args.join(" "), method, "keybase api request");
        let write = async {
            running.stdin.write_all(line.as_bytes()).await?;
            running.stdin.flush().await
        };
        if write.await.is_err() {
            return Ok(Attempt::Ended);
        }
        let mut reply = String::new();
        let read = running.stdout.read_line(&mut reply);
        match tokio::time::timeout(self.cli.timeout, read).await {
            Err(_) => {
                if let Some(mut r) = self.running.take() {
                    let _ = r.child.kill().await;
                }
                Err(ClientError::Timeout {
                    method: method.to_owned(),
                    timeout: self.cli.timeout,
                })
            }
            Ok(Ok(0) | Err(_)) => Ok(Attempt::Ended),
            Ok(Ok(_)) => Ok(Attempt::Line(reply)),
        }
    }

    fn start(&mut self) -> Result<Running, ClientError> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut cmd = self.cli.command(&args);
        cmd.stdin(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| ClientError::Spawn {
            binary: self.cli.binary.clone(),
            source,
        })?;
        self.starts += 1;
        let io_err = |what: &str| ClientError::Io {
            command: self.args.join(" "),
            source: std::io::Error::other(format!("no {what} pipe")),
        };
        let stdin = child.stdin.take().ok_or_else(|| io_err("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| io_err("stdout"))?;
        let stderr_pipe = child.stderr.take().ok_or_else(|| io_err("stderr"))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr);
        let stderr_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = tail.lock().await;
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
            stderr_task,
        })
    }

    /// Waits for an ended process: its exit status and the end of its standard error.
    async fn reap(&mut self) -> (String, String) {
        let Some(mut running) = self.running.take() else {
            return ("not running".to_owned(), String::new());
        };
        drop(running.stdin);
        let status = match tokio::time::timeout(self.cli.timeout, running.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("unknown exit status: {e}"),
            Err(_) => {
                let _ = running.child.kill().await;
                "killed: it closed its output but did not exit".to_owned()
            }
        };
        // Let the stderr task drain what the process wrote before it ended.
        let drain = std::time::Duration::from_secs(1);
        let _ = tokio::time::timeout(drain, &mut running.stderr_task).await;
        let stderr = running
            .stderr
            .lock()
            .await
            .iter()
            .cloned()
            .collect::<Vec<_>>();
        let stderr = if stderr.is_empty() {
            "(nothing)".to_owned()
        } else {
            stderr.join(" | ")
        };
        (status, stderr)
    }

    /// Ends the process: closes its input and waits for it to exit.
    pub async fn close(&mut self) {
        if let Some(running) = self.running.take() {
            let Running {
                mut child, stdin, ..
            } = running;
            drop(stdin);
            if tokio::time::timeout(self.cli.timeout, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

fn parse_reply(method: &str, line: &str) -> Result<Box<RawValue>, ClientError> {
    let reply: Reply = serde_json::from_str(line).map_err(|e| ClientError::BadReply {
        method: method.to_owned(),
        detail: e.to_string(),
        excerpt: excerpt(line.trim_end()),
    })?;
    if let Some(e) = reply.error {
        return Err(ClientError::Api {
            method: method.to_owned(),
            code: e.code,
            message: e.message,
        });
    }
    match reply.result {
        Some(result) => Ok(result),
        None => RawValue::from_string("null".to_owned()).map_err(|e| ClientError::BadReply {
            method: method.to_owned(),
            detail: e.to_string(),
            excerpt: String::new(),
        }),
    }
}

/// The JSON line that asks the `chat api` process to run `method` with `options`.
fn request_line<T: Serialize>(method: &str, options: &T) -> Result<String, ClientError> {
    let request = Request {
        method,
        params: Params {
            version: 1,
            options,
        },
    };
    let mut line = serde_json::to_string(&request).map_err(|e| ClientError::BadReply {
        method: method.to_owned(),
        detail: format!("cannot encode the request: {e}"),
        excerpt: String::new(),
    })?;
    line.push('\n');
    Ok(line)
}
