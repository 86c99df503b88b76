//! One job's run: set up the target chat, page through the source, copy each message part by
//! part, all under the link's lease.
//!
//! Setup (creating or adopting the target chat) goes through the same retry policy as sends,
//! one platform's setup at a time across processes (the `setup:<platform>` lease).
//!
//! Each message goes through the delivery step the live relay shares (`crate::delivery`:
//! pending → send → sent per part, reconciled after a crash); this file counts what it did.
//! After each page the cursor is saved (vector's "finalize only after delivery").

use std::{sync::Mutex, time::Duration};

use chrono::Utc;
use tracing::{info, warn};

use super::{Backfill, BackfillError, BackfillJob, MessageOutcome, ProgressKind, Summary};
use crate::{
    adapter::{AdapterError, Mode},
    delivery::{Delivered, Delivery, DeliveryError, Observer},
    ids::{ChatRef, Cursor},
    model::Message,
    report::Report,
    store::{Lease, LeaseInfo, Progress},
};

/// The state of one job while it runs.
pub(super) struct LinkRun<'a> {
    engine: &'a Backfill,
    job: &'a BackfillJob,
    /// The target chat: as the job names it until setup resolves it.
    to: ChatRef,
    /// The link's lease: every send is recorded pending under it (fencing).
    lease: &'a Lease,
    // Counters are read by the retry callbacks too; a std mutex suffices since it is never
    // held across an await.
    summary: Mutex<Summary>,
}

impl<'a> LinkRun<'a> {
    pub(super) fn new(engine: &'a Backfill, job: &'a BackfillJob, lease: &'a Lease) -> Self {
        Self {
            engine,
            job,
            to: job.to.shown(),
            lease,
            summary: Mutex::new(Summary::default()),
        }
    }

    /// The target chat: resolved once setup has run.
    pub(super) fn to(&self) -> &ChatRef {
        &self.to
    }

    fn bump(&self, f: impl FnOnce(&mut Summary)) {
        // A poisoned lock only means a panic elsewhere already ended this job.
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }

    fn snapshot(&self) -> Summary {
        self.summary.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(super) async fn run(&mut self) -> Result<Summary, BackfillError> {
        self.to = self.resolve().await?;
        self.copy_all().await
    }

    /// Finds, adopts or creates the target chat (`setup.rs`), counting retries and showing
    /// who holds the setup lease while this job waits for it.
    async fn resolve(&self) -> Result<ChatRef, BackfillError> {
        let (job, engine) = (self.job, self.engine);
        let info = engine
            .options
            .retry
            .run(
                || job.source.chat_info(&job.from.chat),
                |e, d| self.on_retry(e, d),
            )
            .await
            .map_err(|error| BackfillError::Source {
                chat: job.from.clone(),
                error,
            })?;
        let mut seen = None;
        let on_busy = |busy: &LeaseInfo| {
            if seen.as_ref() != Some(&busy.epoch) {
                seen = Some(busy.epoch);
                engine.waiting(job, &self.to, busy);
            }
        };
        engine
            .set_up_with(
                &job.link,
                &info,
                job.sink.as_ref(),
                &job.to,
                |e, d| self.on_retry(e, d),
                on_busy,
            )
            .await
    }

    async fn copy_all(&self) -> Result<Summary, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        self.check_target().await?;

        let saved = store.progress(&job.from, &self.to).await?;
        let mut cursor = saved.as_ref().and_then(|p| p.cursor.clone());
        let (copied, rejected) = store.copy_counts(&job.from, &self.to).await?;
        let degraded = store.degraded_count(&job.from, &self.to).await?;
        self.bump(|s| {
            s.copied = copied;
            s.rejected = rejected;
            s.degraded = degraded;
        });
        let total =
            job.source
                .count(&job.from.chat)
                .await
                .map_err(|error| BackfillError::Source {
                    chat: job.from.clone(),
                    error,
                })?;
        info!(link = %job.link, from = %job.from, to = %self.to, ?total, done = copied + rejected,
            "backfill starting");
        self.engine.emit_to(
            job,
            &self.to,
            ProgressKind::Started {
                total,
                done: copied + rejected,
            },
        );

        loop {
            let page = self.read_page(cursor.as_ref()).await?;
            for msg in &page.messages {
                let outcome = self.copy_message(msg).await?;
                let label = match &outcome {
                    MessageOutcome::Copied => Some("copied"),
                    MessageOutcome::Degraded(_) => Some("degraded"),
                    MessageOutcome::Rejected(_) => Some("rejected"),
                    MessageOutcome::Skipped => None,
                };
                if let Some(label) = label {
                    crate::telemetry::message(
                        &job.link,
                        job.from.platform,
                        self.to.platform,
                        label,
                    );
                }
                self.engine.emit_to(
                    job,
                    &self.to,
                    ProgressKind::Message {
                        origin: msg.origin.clone(),
                        outcome,
                    },
                );
            }
            // On the last page the source gives no cursor; keep the page's start, so the next
            // run re-reads only that page (all skipped) and then picks up anything newer.
            let end = page.next.is_none();
            if let Some(next) = page.next {
                cursor = Some(next);
            }
            self.save_progress(cursor.clone(), end).await?;
            if end {
                break;
            }
        }
        let summary = self.snapshot();
        info!(link = %job.link, to = %self.to, copied = summary.copied, rejected = summary.rejected,
            degraded = summary.degraded, skipped = summary.skipped, parts_sent = summary.parts_sent,
            "backfill complete");
        Ok(summary)
    }

    async fn check_target(&self) -> Result<(), BackfillError> {
        let job = self.job;
        self.engine
            .options
            .retry
            .run(|| job.sink.check(&self.to.chat), |e, d| self.on_retry(e, d))
            .await
            .map_err(|error| BackfillError::Sink {
                chat: self.to.clone(),
                error,
            })
    }

    async fn read_page(&self, after: Option<&Cursor>) -> Result<crate::Page, BackfillError> {
        let job = self.job;
        let limit = self.engine.options.page_size.max(1);
        self.engine
            .options
            .retry
            .run(
                || job.source.page(&job.from.chat, after, limit),
                |e, d| self.on_retry(e, d),
            )
            .await
            .map_err(|error| BackfillError::Source {
                chat: job.from.clone(),
                error,
            })
    }

    async fn save_progress(&self, cursor: Option<Cursor>, done: bool) -> Result<(), BackfillError> {
        let s = self.snapshot();
        let p = Progress {
            from: self.job.from.clone(),
            to: self.to.clone(),
            cursor,
            copied: s.copied,
            skipped: s.skipped,
            rejected: s.rejected,
            done,
            updated_at: Utc::now(),
        };
        Ok(self.engine.store.save_progress(&p).await?)
    }

    fn on_retry(&self, error: &AdapterError, delay: Duration) {
        let error = Report::new(error);
        warn!(link = %self.job.link, to = %self.to, error = %error, retry_after = ?delay,
            "retrying");
        self.bump(|s| s.retries += 1);
        self.engine.emit_to(
            self.job,
            &self.to,
            ProgressKind::Retrying {
                error: error.to_string(),
                delay,
            },
        );
    }

    /// Copies every part of `msg` not yet in the target (the shared delivery step) and
    /// counts what it did.
    async fn copy_message(&self, msg: &Message) -> Result<MessageOutcome, BackfillError> {
        let delivery = Delivery {
            store: &self.engine.store,
            sink: self.job.sink.as_ref(),
            to: &self.to,
            lease: self.lease,
            retry: &self.engine.options.retry,
            pacer: self.engine.pacers.get(&self.to.platform).map(AsRef::as_ref),
            mode: Mode::Backfill,
        };
        let delivered = delivery.copy(msg, self).await.map_err(|e| match e {
            DeliveryError::Store(e) => BackfillError::Store(e),
            DeliveryError::Sink(error) => BackfillError::Sink {
                chat: self.to.clone(),
                error,
            },
        })?;
        Ok(match delivered {
            Delivered::Skipped => {
                self.bump(|s| s.skipped += 1);
                MessageOutcome::Skipped
            }
            Delivered::Copied {
                notes,
                counted_before,
            } => {
                if !counted_before {
                    self.bump(|s| s.copied += 1);
                }
                if notes.is_empty() {
                    MessageOutcome::Copied
                } else {
                    MessageOutcome::Degraded(notes)
                }
            }
            Delivered::Rejected {
                reason,
                counted_before,
            } => {
                self.bump(|s| {
                    s.rejected += 1;
                    if counted_before {
                        s.copied = s.copied.saturating_sub(1);
                    }
                });
                MessageOutcome::Rejected(reason)
            }
        })
    }
}

/// The backfill counts what each delivery does, and shows its retries.
impl Observer for LinkRun<'_> {
    fn retrying(&self, error: &AdapterError, delay: Duration) {
        self.on_retry(error, delay);
    }

    fn part_sent(&self) {
        self.bump(|s| s.parts_sent += 1);
    }

    fn reconciled(&self) {
        self.bump(|s| s.reconciled += 1);
    }

    fn resent_unconfirmed(&self) {
        self.bump(|s| s.resent_unconfirmed += 1);
    }

    fn degraded(&self) {
        self.bump(|s| s.degraded += 1);
    }
}
