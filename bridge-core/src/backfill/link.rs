//! One job's run: page through the source, copy each message part by part.
//!
//! Per part, in this order (each step is safe to be interrupted after):
//! 1. the store says *sent* → nothing to do; *rejected* → the message stays rejected;
//! 2. *pending* → a run crashed during this send: ask the target whether it arrived
//!    ([`Sink::find_sent`]); if so, record it *sent*;
//! 3. otherwise wait for the pacer, write *pending*, send (retrying by error class), write
//!    *sent* with the new ID, or *rejected* with the reason.
//!
//! After each page the cursor is saved (vector's "finalize only after delivery").

use std::{sync::Mutex, time::Duration};

use chrono::Utc;
use tracing::{debug, info, warn};

use super::{Backfill, BackfillError, BackfillJob, MessageOutcome, ProgressKind, Summary};
use crate::{
    adapter::{AdapterError, Mode, Outgoing},
    ids::{Cursor, MsgId},
    model::Message,
    report::Report,
    store::{CopyState, Progress},
};

/// The state of one job while it runs.
pub(super) struct LinkRun<'a> {
    engine: &'a Backfill,
    job: &'a BackfillJob,
    // Counters are read by the retry callbacks too; a std mutex suffices since it is never
    // held across an await.
    summary: Mutex<Summary>,
}

/// What became of one part.
enum PartOutcome {
    Sent(MsgId),
    Rejected(String),
}

impl<'a> LinkRun<'a> {
    pub(super) fn new(engine: &'a Backfill, job: &'a BackfillJob) -> Self {
        Self {
            engine,
            job,
            summary: Mutex::new(Summary::default()),
        }
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

    pub(super) async fn run(&self) -> Result<Summary, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        self.check_target().await?;

        let saved = store.progress(&job.from, &job.to).await?;
        let mut cursor = saved.as_ref().and_then(|p| p.cursor.clone());
        let (copied, rejected) = store.copy_counts(&job.from, &job.to).await?;
        self.bump(|s| {
            s.copied = copied;
            s.rejected = rejected;
        });
        let total =
            job.source
                .count(&job.from.chat)
                .await
                .map_err(|error| BackfillError::Source {
                    chat: job.from.clone(),
                    error,
                })?;
        info!(link = %job.link, from = %job.from, to = %job.to, ?total, done = copied + rejected,
            "backfill starting");
        self.engine.emit(
            job,
            ProgressKind::Started {
                total,
                done: copied + rejected,
            },
        );

        loop {
            let page = self.read_page(cursor.as_ref()).await?;
            for msg in &page.messages {
                let outcome = self.copy_message(msg).await?;
                self.engine.emit(
                    job,
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
        info!(link = %job.link, to = %job.to, copied = summary.copied, rejected = summary.rejected,
            skipped = summary.skipped, parts_sent = summary.parts_sent, "backfill complete");
        Ok(summary)
    }

    async fn check_target(&self) -> Result<(), BackfillError> {
        let job = self.job;
        self.engine
            .options
            .retry
            .run(|| job.sink.check(&job.to.chat), |e, d| self.on_retry(e, d))
            .await
            .map_err(|error| BackfillError::Sink {
                chat: job.to.clone(),
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
            to: self.job.to.clone(),
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
        warn!(link = %self.job.link, to = %self.job.to, error = %error, retry_after = ?delay,
            "retrying");
        self.bump(|s| s.retries += 1);
        self.engine.emit(
            self.job,
            ProgressKind::Retrying {
                error: error.to_string(),
                delay,
            },
        );
    }

    /// Copies every part of `msg` not yet in the target.
    async fn copy_message(&self, msg: &Message) -> Result<MessageOutcome, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        let parts = job.sink.parts(msg).max(1);
        let rows = store.copies(&msg.origin, &job.to).await?;
        let finished = (0..parts).all(|p| {
            rows.iter()
                .any(|r| r.part == p && r.state != CopyState::Pending)
        }) || rows.iter().any(|r| r.state == CopyState::Rejected);
        if finished {
            self.bump(|s| s.skipped += 1);
            debug!(link = %job.link, msg = %msg.origin, "already copied, skipping");
            return Ok(MessageOutcome::Skipped);
        }

        // A crash between two parts leaves only sent rows; the store already counts such a
        // message as copied (it cannot know the part count), so it must not be counted again.
        let counted_before = !rows.is_empty() && rows.iter().all(|r| r.state == CopyState::Sent);
        let reply_to = match &msg.reply_to {
            Some(parent) => {
                store
                    .copy_in(&msg.origin.chat_ref().msg(parent.clone()), &job.to)
                    .await?
            }
            None => None,
        };
        let mut earlier: Vec<MsgId> = Vec::with_capacity(parts as usize);
        for part in 0..parts {
            let row = rows.iter().find(|r| r.part == part);
            let out = Outgoing {
                msg,
                part,
                reply_to: reply_to.as_ref(),
                earlier: &earlier,
                mode: Mode::Backfill,
            };
            let outcome = match row.map(|r| (r.state, r.msg.as_ref())) {
                Some((CopyState::Sent, Some(id))) => PartOutcome::Sent(id.clone()),
                Some((CopyState::Pending, _)) => match self.reconcile(out).await? {
                    Some(id) => PartOutcome::Sent(id),
                    None => self.send_part(out).await?,
                },
                _ => self.send_part(out).await?,
            };
            match outcome {
                PartOutcome::Sent(id) => earlier.push(id),
                PartOutcome::Rejected(reason) => {
                    // Later parts build on earlier ones (a reaction on the message), so the
                    // whole message is rejected; the reason names the part.
                    warn!(link = %job.link, to = %job.to, msg = %msg.origin, part, reason = %reason,
                        "target rejected the message; recorded and skipped");
                    self.bump(|s| {
                        s.rejected += 1;
                        if counted_before {
                            s.copied = s.copied.saturating_sub(1);
                        }
                    });
                    return Ok(MessageOutcome::Rejected(reason));
                }
            }
        }
        if !counted_before {
            self.bump(|s| s.copied += 1);
        }
        Ok(MessageOutcome::Copied)
    }

    /// After a crash: asks the target whether a pending part arrived.
    async fn reconcile(&self, out: Outgoing<'_>) -> Result<Option<MsgId>, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        let found = self
            .engine
            .options
            .retry
            .run(
                || job.sink.find_sent(&job.to.chat, out),
                |e, d| self.on_retry(e, d),
            )
            .await;
        match found {
            Ok(Some(id)) => {
                store
                    .mark_sent(&out.msg.origin, &job.to, out.part, &id)
                    .await?;
                self.bump(|s| s.reconciled += 1);
                info!(link = %job.link, msg = %out.msg.origin, part = out.part,
                    "a crashed send had arrived; recorded it");
                Ok(Some(id))
            }
            Ok(None) => Ok(None),
            Err(AdapterError::Unsupported(_)) => {
                self.bump(|s| s.resent_unconfirmed += 1);
                warn!(link = %job.link, msg = %out.msg.origin, part = out.part,
                    "a send was interrupted and the target cannot tell whether it arrived; \
                     sending again (possible duplicate)");
                Ok(None)
            }
            Err(error) => Err(BackfillError::Sink {
                chat: job.to.clone(),
                error,
            }),
        }
    }

    /// Sends one part: pace, mark pending, send with retries, mark the outcome.
    async fn send_part(&self, out: Outgoing<'_>) -> Result<PartOutcome, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        if let Some(pacer) = self.engine.pacers.get(&job.to.platform) {
            pacer.ready().await;
        }
        store
            .mark_pending(&out.msg.origin, &job.to, out.part)
            .await?;
        let sent = self
            .engine
            .options
            .retry
            .run(
                || job.sink.send(&job.to.chat, out),
                |e, d| self.on_retry(e, d),
            )
            .await;
        match sent {
            Ok(id) => {
                store
                    .mark_sent(&out.msg.origin, &job.to, out.part, &id)
                    .await?;
                self.bump(|s| s.parts_sent += 1);
                Ok(PartOutcome::Sent(id))
            }
            Err(AdapterError::Rejected { reason }) => {
                store
                    .mark_rejected(&out.msg.origin, &job.to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            Err(AdapterError::Unsupported(what)) => {
                let reason = format!("the target does not support {what}");
                store
                    .mark_rejected(&out.msg.origin, &job.to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            // Retries exhausted or fatal: stop the job. The part stays pending and the next run
            // reconciles it before anything else.
            Err(error) => Err(BackfillError::Sink {
                chat: job.to.clone(),
                error,
            }),
        }
    }
}
