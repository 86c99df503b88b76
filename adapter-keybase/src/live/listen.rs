//! One supervised `keybase chat api-listen` for the whole account (keybase.md §4, relay.md
//! §3.1, §3.4): every linked conversation comes through the one process (filtered with
//! `--filter-channels` when the caller names them), its lines become [`LiveEvent`]s.
//!
//! api-listen has no replay: it pings the service every second and exits with "connection to
//! service lost" when the service goes away, and what is said while it is down never comes.
//! So the supervisor restarts it with exponential backoff (backon; reset once a process is
//! listening again) and reports every start, the first included, as
//! [`ListenItem::Started`], sent before any event of that process: the caller then catches up
//! each chat after its last position ([`super::catchup`]), and the overlap with what the new
//! process streams is removed by the positions and the ID map.
//!
//! `--local` is passed, so this device's own messages (what kbbridge sent) come through too,
//! marked `local`: nothing is hidden at the source, and the relay decides.

use std::{collections::VecDeque, process::Stdio, sync::Arc, time::Duration};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Child,
    sync::{Mutex, mpsc, oneshot},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::event::{EventReader, LineError, LiveEvent};
use crate::cli::{KeybaseCli, requests::ChatChannel};

/// The start of the line api-listen writes on stderr once it listens (every version).
const BANNER: &str = "Listening for chat notifications";

/// How many lines of api-listen's stderr are kept to say why it ended.
const STDERR_LINES: usize = 20;

/// What the supervisor reports.
#[derive(Debug)]
pub enum ListenItem {
    /// An api-listen process listens from now on. `restarts` is 0 for the first one; for a
    /// restart `previous_end` says how the previous process ended. Everything said from now
    /// on is streamed; what was said before (while none listened) must be caught up.
    Started {
        /// How many times the process was restarted before this one.
        restarts: u32,
        /// How the previous process ended (exit status and the end of its stderr).
        previous_end: Option<String>,
    },
    /// A message, edit, delete or reaction.
    Event(Box<LiveEvent>),
}

/// How the supervisor runs api-listen.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// The channels to listen to (`--filter-channels`); empty: every conversation.
    pub channels: Vec<ChatChannel>,
    /// The first wait before a restart; it doubles (with jitter) while starts keep failing.
    pub min_delay: Duration,
    /// The longest wait between restarts.
    pub max_delay: Duration,
    /// Consecutive processes that end before listening after which the supervisor gives up.
    pub max_failed_starts: u32,
    /// How long a process may take to say it listens (then it is taken as listening).
    pub banner_timeout: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        // go-keybase-chat-bot retries every 2 s, 30 times; here the first retry is quicker and
        // later ones slower, for the same patience.
        Self {
            channels: Vec::new(),
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_failed_starts: 30,
            banner_timeout: Duration::from_secs(20),
        }
    }
}

/// Why the supervisor stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// api-listen could not be started, or ended before listening, too many times in a row.
    #[error(
        "`keybase chat api-listen` failed to start {attempts} times in a row; last: {last}; \
         check that the Keybase service runs and is logged in (`keybase status`), then restart \
         kbbridge"
    )]
    GaveUp {
        /// Failed starts in a row.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The channel filter could not be written.
    #[error("cannot write the api-listen channel filter: {0}")]
    Filter(String),
}

/// The supervisor of one account's api-listen.
#[derive(Clone, Debug)]
pub struct ApiListen {
    cli: KeybaseCli,
    options: ListenOptions,
}

/// How one process went.
enum Ended {
    /// It ended (by itself); whether it had listened, and how it ended.
    Exited { listened: bool, how: String },
    /// The caller stopped (shutdown, or nobody takes the items any more).
    Stopped,
}

impl ApiListen {
    /// A supervisor running `cli`'s `keybase`.
    pub fn new(cli: KeybaseCli, options: ListenOptions) -> Self {
        Self { cli, options }
    }

    /// The same supervisor listening to `channels` only (every conversation when empty).
    pub fn with_channels(&self, channels: Vec<ChatChannel>) -> Self {
        let mut listen = self.clone();
        listen.options.channels = channels;
        listen
    }

    /// Runs api-listen, restarting it when it ends, until `shutdown` is cancelled or `out` is
    /// closed. Events are read by `reader` (one reader for the account, its clones included,
    /// so deletes find the reactions seen by the listener and the catch-ups alike).
    ///
    /// # Errors
    /// [`ListenError::GaveUp`] after `max_failed_starts` processes in a row ended before
    /// listening.
    pub async fn run(
        &self,
        reader: EventReader,
        out: mpsc::Sender<ListenItem>,
        shutdown: CancellationToken,
    ) -> Result<(), ListenError> {
        let args = self.args()?;
        let mut restarts = 0u32;
        let mut failed_starts = 0u32;
        let mut previous_end: Option<String> = None;
        let mut delays = self.backoff();
        loop {
            let ended = self
                .once(
                    &args,
                    &reader,
                    &out,
                    &shutdown,
                    restarts,
                    previous_end.take(),
                )
                .await;
            let (listened, how) = match ended {
                Ended::Stopped => return Ok(()),
                Ended::Exited { listened, how } => (listened, how),
            };
            if listened {
                failed_starts = 0;
                delays = self.backoff();
            } else {
                failed_starts += 1;
                if failed_starts >= self.options.max_failed_starts {
                    return Err(ListenError::GaveUp {
                        attempts: failed_starts,
                        last: how,
                    });
                }
            }
            let delay = delays.next().unwrap_or(self.options.max_delay);
            warn!(ended = %how, listened, retry_in = ?delay, restarts,
                "keybase api-listen ended; restarting it, then catching up what it missed");
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
            restarts += 1;
            previous_end = Some(how);
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.options.min_delay)
            .with_max_delay(self.options.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
    }

    fn args(&self) -> Result<Vec<String>, ListenError> {
        let mut args = vec![
            "chat".to_owned(),
            "api-listen".to_owned(),
            "--local".to_owned(),
        ];
        if !self.options.channels.is_empty() {
            let filters: Vec<serde_json::Value> = self
                .options
                .channels
                .iter()
                .map(|c| {
                    let mut f = serde_json::json!({"name": c.name});
                    if !c.members_type.is_empty() {
                        f["members_type"] = c.members_type.clone().into();
                    }
                    if !c.topic_name.is_empty() {
                        f["topic_name"] = c.topic_name.clone().into();
                    }
                    f
                })
                .collect();
            let json =
                serde_json::to_string(&filters).map_err(|e| ListenError::Filter(e.to_string()))?;
            args.push("--filter-channels".to_owned());
            args.push(json);
        }
        Ok(args)
    }

    /// Runs one process to its end.
    async fn once(
        &self,
        args: &[String],
        reader: &EventReader,
        out: &mpsc::Sender<ListenItem>,
        shutdown: &CancellationToken,
        restarts: u32,
        previous_end: Option<String>,
    ) -> Ended {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.cli.command(&args);
        cmd.stdin(Stdio::null());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ended::Exited {
                    listened: false,
                    how: format!("cannot start `{}`: {e}", self.cli.binary.display()),
                };
            }
        };
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill().await;
            return Ended::Exited {
                listened: false,
                how: "api-listen started without its output pipes".to_owned(),
            };
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (banner_tx, banner_rx) = oneshot::channel();
        let stderr_task = tokio::spawn(collect_stderr(stderr, Arc::clone(&tail), banner_tx));
        // Listening once it says so (or says nothing for a while but is still there).
        let listening = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = child.kill().await;
                return Ended::Stopped;
            }
            said = tokio::time::timeout(self.options.banner_timeout, banner_rx) => match said {
                Ok(Ok(())) => true,
                Ok(Err(_)) => false,
                Err(_) => {
                    warn!(timeout = ?self.options.banner_timeout,
                        "keybase api-listen did not say it listens; taking it as listening");
                    true
                }
            },
        };
        if listening {
            info!(restarts, "keybase api-listen listening");
            let started = ListenItem::Started {
                restarts,
                previous_end,
            };
            if out.send(started).await.is_err() {
                let _ = child.kill().await;
                return Ended::Stopped;
            }
            let mut lines = BufReader::new(stdout).lines();
            loop {
                let line = tokio::select! {
                    () = shutdown.cancelled() => {
                        let _ = child.kill().await;
                        return Ended::Stopped;
                    }
                    line = lines.next_line() => line,
                };
                let line = match line {
                    Ok(Some(line)) => line,
                    Ok(None) => break,
                    Err(e) => {
                        warn!(error = %e, "reading keybase api-listen failed");
                        break;
                    }
                };
                if line.trim().is_empty() {
                    continue;
                }
                match reader.listen_line(&line) {
                    Ok(events) => {
                        for event in events {
                            debug!(conversation = %event.conversation_id, position = event.position,
                                local = event.local, "keybase live event");
                            if out.send(ListenItem::Event(Box::new(event))).await.is_err() {
                                let _ = child.kill().await;
                                return Ended::Stopped;
                            }
                        }
                    }
                    Err(e @ LineError::Undecryptable(_)) => {
                        warn!(error = %e, "a keybase message could not be decrypted; it is not relayed");
                    }
                    Err(e) => warn!(error = %e, "unreadable keybase api-listen line; skipped"),
                }
            }
        }
        let how = ended(&mut child, &tail, stderr_task).await;
        Ended::Exited {
            listened: listening,
            how,
        }
    }
}

/// Keeps the end of stderr, and says when the banner shows.
async fn collect_stderr(
    stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
    banner: oneshot::Sender<()>,
) {
    let mut banner = Some(banner);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with(BANNER) {
            if let Some(tx) = banner.take() {
                let _ = tx.send(());
            }
        }
        let mut tail = tail.lock().await;
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// Waits for an ended process: its status and the end of its stderr, as one line.
async fn ended(
    child: &mut Child,
    tail: &Mutex<VecDeque<String>>,
    stderr_task: tokio::task::JoinHandle<()>,
) -> String {
    let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("unknown exit status: {e}"),
        Err(_) => {
            let _ = child.kill().await;
            "killed: it closed its output but did not exit".to_owned()
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_task).await;
    let tail = tail.lock().await;
    let last: Vec<&str> = tail
        .iter()
        .filter(|l| !l.starts_with(BANNER))
        .map(String::as_str)
        .collect();
    if last.is_empty() {
        status
    } else {
        format!("{status}: {}", last.join(" | "))
    }
}
