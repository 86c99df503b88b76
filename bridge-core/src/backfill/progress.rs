//! What the engine reports as it goes, for progress bars, logs and `kbbridge status`.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::ids::{ChatRef, MsgRef};

/// Counts of one job's run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages whose copy is complete, in all runs so far.
    pub copied: u64,
    /// Messages the target rejected, in all runs so far (recorded in the store with reasons).
    pub rejected: u64,
    /// Messages copied without some of their attachments (each carries a note instead), in all
    /// runs so far; also counted in `copied`.
    pub degraded: u64,
    /// Messages of this run found already copied (or rejected) and not sent again.
    pub skipped: u64,
    /// Target messages sent by this run (a message may take several parts).
    pub parts_sent: u64,
    /// Parts a crashed run had left pending and the target turned out to have received.
    pub reconciled: u64,
    /// Parts left pending by a crash that were sent again because the target could not say
    /// whether they had arrived (possible duplicates).
    pub resent_unconfirmed: u64,
    /// Retries after rate limits or transient errors.
    pub retries: u64,
}

/// Something that happened in one job.
#[derive(Clone, Debug)]
pub struct ProgressEvent {
    /// The job's link name.
    pub link: Arc<str>,
    /// The job's target chat.
    pub to: ChatRef,
    /// What happened.
    pub kind: ProgressKind,
}

/// What happened, in a [`ProgressEvent`].
#[derive(Clone, Debug)]
pub enum ProgressKind {
    /// The job started; `total` is the source's message count where known, `done` the
    /// messages already copied or rejected by earlier runs.
    Started {
        /// Messages in the source chat, where known.
        total: Option<u64>,
        /// Messages already handled by earlier runs.
        done: u64,
    },
    /// One message was handled (copied, skipped or rejected).
    Message {
        /// The source message.
        origin: MsgRef,
        /// What became of it.
        outcome: MessageOutcome,
    },
    /// A send is being retried after a delay.
    Retrying {
        /// The error that caused it.
        error: String,
        /// The wait before the retry.
        delay: Duration,
    },
    /// Another process holds the link (or the setup of its platform's chats): the job waits
    /// until it is released or expires.
    Waiting {
        /// The other process.
        holder: String,
        /// When its lease expires unless it renews it.
        until: DateTime<Utc>,
    },
    /// The job ended with the whole history copied.
    Finished(Summary),
    /// The job stopped early.
    Failed(String),
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageOutcome {
    /// All its parts are now in the target.
    Copied,
    /// All its parts are in the target, but some attachments are notes instead of files.
    Degraded(Vec<String>),
    /// An earlier run had handled it already.
    Skipped,
    /// The target refused it; the reason is recorded.
    Rejected(String),
}
