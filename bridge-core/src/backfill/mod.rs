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
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc};

use futures::{StreamExt, stream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use self::{
    options::{BackfillOptions, Rate},
    progress::{MessageOutcome, ProgressEvent, ProgressKind, Summary},
};
use crate::{
    adapter::{AdapterError, HistorySource, Sink},
    ids::{ChatRef, Platform},
    pacer::Pacer,
    report::Report,
    store::{MappingStore, StoreError},
};

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
    pub to: ChatRef,
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
            BackfillError::Store(_) => {
                "check the database (disk space, permissions, server reachable), then run the \
                 backfill again: it resumes where it stopped"
            }
            BackfillError::Source { .. } => {
                "check the export path and the chat name in the mapping file (`kbbridge check`)"
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
}

/// The backfill engine, shared by all jobs of a run.
pub struct Backfill {
    store: MappingStore,
    options: BackfillOptions,
    pacers: BTreeMap<Platform, Arc<Pacer>>,
    progress: Option<mpsc::UnboundedSender<ProgressEvent>>,
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
        Self {
            store,
            options,
            pacers,
            progress: None,
        }
    }

    /// Sends a [`ProgressEvent`] for everything that happens (for progress bars and status).
    pub fn with_progress(mut self, tx: mpsc::UnboundedSender<ProgressEvent>) -> Self {
        self.progress = Some(tx);
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
                let result = self.run_job(&job, shutdown).await;
                JobOutcome {
                    link: job.link,
                    from: job.from,
                    to: job.to,
                    result,
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
        let run = link::LinkRun::new(self, job);
        let result = tokio::select! {
            biased;
            // Dropping the job at any await point is safe (pending rows are reconciled on the
            // next run), so a stop request need not wait for a slow send.
            () = shutdown.cancelled() => Err(BackfillError::Cancelled),
            r = run.run() => r,
        };
        match &result {
            Ok(summary) => self.emit(job, ProgressKind::Finished(summary.clone())),
            Err(e) => self.emit(job, ProgressKind::Failed(Report::new(e).to_string())),
        }
        result
    }

    fn emit(&self, job: &BackfillJob, kind: ProgressKind) {
        if let Some(tx) = &self.progress {
            // A closed receiver only means nobody watches progress any more.
            let _ = tx.send(ProgressEvent {
                link: job.link.clone(),
                to: job.to.clone(),
                kind,
            });
        }
    }
}
