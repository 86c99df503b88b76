//! The backfill engine: replays a history source into a sink, paced, retried and resumable.
//!
//! One [`BackfillJob`] copies one source chat into one target chat, strictly in order. Jobs run
//! in parallel up to [`BackfillOptions::parallel_links`]. Every part of every copy goes through
//! the store as *pending* before its send and *sent* after it, and the cursor is saved after
//! each page, so the run can be dropped at any await point (a crash, Ctrl-C) and resumed with
//! no duplicate and no loss: see `link.rs` for the per-message steps.

mod link;
mod options;
mod progress;
mod setup;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc};

use futures::{StreamExt, stream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

// `Rate` is the pacer's; re-exported where the backfill options name it.
pub use crate::pacer::Rate;

pub use self::{
    options::BackfillOptions,
    progress::{MessageOutcome, ProgressEvent, ProgressKind, Summary},
};
use crate::{
    adapter::{AdapterError, HistorySource, Sink},
    ids::{ChatRef, Platform},
    lease::{LeaseGuard, LeaseOptions},
    pacer::Pacer,
    report::Report,
    store::{LeaseInfo, MappingStore, StoreError},
};

/// Where a job writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A chat the mapping file names: the sink checks it and may canonicalise its ID (a
    /// Matrix alias becomes its room ID).
    Named(ChatRef),
    /// The chat the sink made for the source chat in an earlier run, or makes now (with its
    /// enclosing groups: a category, a space).
    Auto(Platform),
}

impl Target {
    /// The platform written to.
    pub fn platform(&self) -> Platform {
        match self {
            Target::Named(chat) => chat.platform,
            Target::Auto(platform) => *platform,
        }
    }

    /// The target as known before it is resolved, for messages: the named chat, or
    /// `platform:auto`.
    pub fn shown(&self) -> ChatRef {
        match self {
            Target::Named(chat) => chat.clone(),
            Target::Auto(platform) => ChatRef::new(*platform, "auto"),
        }
    }
}

/// One source chat to copy into one target chat.
#[derive(Clone)]
pub struct BackfillJob {
    /// The link's name, for logs and progress.
    pub link: Arc<str>,
    /// Where the history comes from.
    pub source: Arc<dyn HistorySource>,
    /// The source chat.
    pub from: ChatRef,
    /// Where it goes.
    pub sink: Arc<dyn Sink>,
    /// The target chat.
    pub to: Target,
}

impl BackfillJob {
    /// The name of the lease that makes one process at a time write for this job: the source
    /// chat and the target platform (a link has at most one target per platform), so it is
    /// the same before and after an "auto" target is resolved, and for the live relay.
    pub fn lease_name(&self) -> String {
        link_lease_name(&self.from, self.to.platform())
    }
}

/// The name of the lease a link from `from` into `platform` is written under (by a backfill
/// job, and by the relay).
pub fn link_lease_name(from: &ChatRef, platform: Platform) -> String {
    format!("link:{from}>{platform}")
}

/// Why a backfill job stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The mapping store failed; nothing more can be recorded, so nothing more is sent.
    #[error("mapping store")]
    Store(#[from] StoreError),
    /// The history source failed for good.
    #[error("reading {chat}")]
    Source {
        /// The source chat.
        chat: ChatRef,
        /// The adapter's error.
        #[source]
        error: AdapterError,
    },
    /// The target chat could not be created, adopted or found, for good or past the retry
    /// policy. Nothing was sent for this job; the others go on.
    #[error("setting up the {chat} chat")]
    Setup {
        /// The target as the mapping file gives it (`platform:auto` for "auto").
        chat: ChatRef,
        /// The adapter's error.
        #[source]
        error: AdapterError,
    },
    /// The target failed for good, or kept failing past the retry policy.
    #[error("writing to {chat}")]
    Sink {
        /// The target chat.
        chat: ChatRef,
        /// The adapter's error.
        #[source]
        error: AdapterError,
    },
    /// The run was asked to stop; progress up to the last delivered message is kept.
    #[error("stopped before the end")]
    Cancelled,
}

impl BackfillError {
    /// What the operator should do next, in one sentence.
    pub fn advice(&self) -> &'static str {
        match self {
            BackfillError::Store(StoreError::LeaseLost { .. }) => {
                "another kbbridge process took this link over after this one could not renew \
                 its lease in time (a stalled process or database); nothing was sent twice: \
                 let the other process finish, or run the backfill again once it has"
            }
            BackfillError::Store(_) => {
                "check the database (disk space, permissions, server reachable), then run the \
                 backfill again: it resumes where it stopped"
            }
            BackfillError::Source { .. } => {
                "check the export path and the chat name in the mapping file (`kbbridge check`)"
            }
            BackfillError::Setup {
                error: AdapterError::Fatal(_) | AdapterError::Rejected { .. },
                ..
            } => {
                "fix the target chat named in the mapping file, or the bot's permissions to \
                 create chats there (`kbbridge check` tells), then run the backfill again; the \
                 other links were not affected"
            }
            BackfillError::Setup { .. } => {
                "the target kept failing while its chat was being set up: run the backfill \
                 again later; it resumes where it stopped"
            }
            BackfillError::Sink {
                error: AdapterError::Fatal(_),
                ..
            } => {
                "fix the target's credentials or permissions (`kbbridge check`), then run the \
                 backfill again: it resumes where it stopped"
            }
            BackfillError::Sink { .. } | BackfillError::Cancelled => {
                "run the backfill again: it resumes where it stopped, without duplicates"
            }
        }
    }
}

/// The outcome of one job, as [`Backfill::run`] reports it.
pub struct JobOutcome {
    /// The job's link name.
    pub link: Arc<str>,
    /// The source chat.
    pub from: ChatRef,
    /// The target chat.
    pub to: ChatRef,
    /// What it did, or why it stopped.
    pub result: Result<Summary, BackfillError>,
    /// How long it ran (the wait for its lease included).
    pub took: std::time::Duration,
}

/// The backfill engine, shared by all jobs of a run.
pub struct Backfill {
    store: MappingStore,
    options: BackfillOptions,
    pacers: BTreeMap<Platform, Arc<Pacer>>,
    progress: Option<mpsc::UnboundedSender<ProgressEvent>>,
    lease: LeaseOptions,
}

impl Backfill {
    /// An engine writing its mapping to `store`.
    pub fn new(store: MappingStore, options: BackfillOptions) -> Self {
        // One pacer per target platform, shared by every job writing there: the platform's
        // limit is per bot, not per chat.
        let pacers = options
            .rates
            .iter()
            .map(|(p, r)| (*p, Arc::new(Pacer::new(*r))))
            .collect();
        let lease = LeaseOptions {
            ttl: options.lease_ttl,
            ..LeaseOptions::default()
        };
        Self {
            store,
            options,
            pacers,
            progress: None,
            lease,
        }
    }

    /// Sends a [`ProgressEvent`] for everything that happens (for progress bars and status).
    pub fn with_progress(mut self, tx: mpsc::UnboundedSender<ProgressEvent>) -> Self {
        self.progress = Some(tx);
        self
    }

    /// Takes leases under `holder` instead of this process's own name (tests that play
    /// several processes in one).
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.lease.holder = holder.into();
        self
    }

    /// Runs `jobs`, up to `parallel_links` at once, until all end or `shutdown` is cancelled.
    /// A job that fails does not stop the others.
    pub async fn run(
        &self,
        jobs: Vec<BackfillJob>,
        shutdown: &CancellationToken,
    ) -> Vec<JobOutcome> {
        stream::iter(jobs)
            .map(|job| async move {
                let started = std::time::Instant::now();
                let (to, result) = self.run_job_to(&job, shutdown).await;
                JobOutcome {
                    link: job.link,
                    from: job.from,
                    to,
                    result,
                    took: started.elapsed(),
                }
            })
            .buffer_unordered(self.options.parallel_links.max(1))
            .collect()
            .await
    }

    /// Runs one job to its end, or until `shutdown` is cancelled.
    ///
    /// # Errors
    /// [`BackfillError`]: everything delivered so far stays recorded, and running the same job
    /// again resumes after it.
    pub async fn run_job(
        &self,
        job: &BackfillJob,
        shutdown: &CancellationToken,
    ) -> Result<Summary, BackfillError> {
        self.run_job_to(job, shutdown).await.1
    }

    /// [`Backfill::run_job`], also returning the target chat (resolved, when it got that far).
    async fn run_job_to(
        &self,
        job: &BackfillJob,
        shutdown: &CancellationToken,
    ) -> (ChatRef, Result<Summary, BackfillError>) {
        let shown = job.to.shown();
        // One writer per link: wait for a lease another process holds rather than send beside
        // it; a holder that died loses it at its expiry.
        let mut seen = None;
        let on_busy = |busy: &LeaseInfo| {
            // Said once per holder, not at every poll.
            if seen.as_ref() != Some(&(busy.holder.clone(), busy.epoch)) {
                seen = Some((busy.holder.clone(), busy.epoch));
                self.waiting(job, &shown, busy);
            }
        };
        let guard = LeaseGuard::acquire(
            &self.store,
            &job.lease_name(),
            &self.lease,
            shutdown,
            on_busy,
        )
        .await;
        let guard = match guard {
            Ok(Some(guard)) => guard,
            Ok(None) => return self.end(job, shown, Err(BackfillError::Cancelled)),
            Err(e) => return self.end(job, shown, Err(e.into())),
        };
        let mut run = link::LinkRun::new(self, job, guard.lease());
        let result = tokio::select! {
            biased;
            // Dropping the job at any await point is safe (pending rows are reconciled on the
            // next run), so a stop request need not wait for a slow send.
            () = shutdown.cancelled() => Err(BackfillError::Cancelled),
            // Renewals failed: another process may take the link over at the lease's expiry,
            // so stop before it can.
            () = guard.lost().cancelled() => Err(BackfillError::Store(StoreError::LeaseLost {
                name: guard.lease().name.clone(),
            })),
            r = run.run() => r,
        };
        let to = run.to().clone();
        guard.release().await;
        self.end(job, to, result)
    }

    fn end(
        &self,
        job: &BackfillJob,
        to: ChatRef,
        result: Result<Summary, BackfillError>,
    ) -> (ChatRef, Result<Summary, BackfillError>) {
        let kind = match &result {
            Ok(summary) => ProgressKind::Finished(summary.clone()),
            Err(e) => ProgressKind::Failed(Report::new(e).to_string()),
        };
        self.emit_to(job, &to, kind);
        (to, result)
    }

    /// Another process holds the job's lease (or the platform's setup lease).
    fn waiting(&self, job: &BackfillJob, to: &ChatRef, busy: &LeaseInfo) {
        warn!(link = %job.link, lease = %busy.name, holder = %busy.holder,
            until = %busy.expires_at.format("%H:%M:%S"),
            "another kbbridge process is writing here; waiting until it finishes or its lease \
             expires");
        self.emit_to(
            job,
            to,
            ProgressKind::Waiting {
                holder: busy.holder.clone(),
                until: busy.expires_at,
            },
        );
    }

    fn emit_to(&self, job: &BackfillJob, to: &ChatRef, kind: ProgressKind) {
        if let Some(tx) = &self.progress {
            // A closed receiver only means nobody watches progress any more.
            let _ = tx.send(ProgressEvent {
                link: job.link.clone(),
                to: to.clone(),
                kind,
            });
        }
    }
}
