//! One job's run: set up the target chat, page through the source, copy each message part by
//! part, all under the link's lease.
//!
//! Setup (creating or adopting the target chat) goes through the same retry policy as sends,
//! one platform's setup at a time across processes (the `setup:<platform>` lease).
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

use tokio_util::sync::CancellationToken;

use super::{Backfill, BackfillError, BackfillJob, MessageOutcome, ProgressKind, Summary, Target};
use crate::{
    adapter::{AdapterError, Mode, Outgoing},
    ids::{ChatRef, Cursor, MsgId},
    lease::with_lease,
    model::Message,
    report::Report,
    store::{CopyRow, CopyState, Lease, LeaseInfo, Progress},
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

/// What became of one part.
enum PartOutcome {
    Sent(MsgId),
    Rejected(String),
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

    /// Finds, adopts or creates the target chat, retried like sends, one setup at a time per
    /// platform (across processes too: two links of one team must not both create its group).
    async fn resolve(&self) -> Result<ChatRef, BackfillError> {
        let (job, engine) = (self.job, self.engine);
        let platform = job.to.platform();
        let requested = match &job.to {
            Target::Named(chat) => Some(chat.chat.clone()),
            Target::Auto(_) => None,
        };
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
        let setup = engine.options.retry.run(
            || job.sink.resolve_chat(&info, requested.as_ref()),
            |e, d| self.on_retry(e, d),
        );
        let never = CancellationToken::new();
        let mut seen = None;
        let on_busy = |busy: &LeaseInfo| {
            if seen.as_ref() != Some(&busy.epoch) {
                seen = Some(busy.epoch);
                engine.waiting(job, &self.to, busy);
            }
        };
        // One setup at a time per platform, across this process's jobs and other processes:
        // two links of one team must not both create the team's category or space. The job's
        // own cancellation drops this future; the setup needs no other stop signal.
        let resolved = with_lease(
            &engine.store,
            &format!("setup:{platform}"),
            &engine.lease,
            &never,
            on_busy,
            setup,
        )
        .await?;
        match resolved {
            None => Err(BackfillError::Cancelled),
            Some(Ok(chat)) => {
                info!(link = %job.link, from = %job.from, platform = %platform, chat = %chat,
                    "target resolved");
                Ok(ChatRef { platform, chat })
            }
            // A sink that cannot resolve chats writes to the named chat as it is.
            Some(Err(AdapterError::Unsupported(_))) if requested.is_some() => Ok(job.to.shown()),
            Some(Err(error)) => Err(BackfillError::Setup {
                chat: job.to.shown(),
                error,
            }),
        }
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

    /// Copies every part of `msg` not yet in the target.
    async fn copy_message(&self, msg: &Message) -> Result<MessageOutcome, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        let parts = job.sink.parts(msg).max(1);
        let rows = store.copies(&msg.origin, &self.to).await?;
        let finished = (0..parts).all(|p| {
            rows.iter()
                .any(|r| r.part == p && r.state != CopyState::Pending)
        }) || rows.iter().any(|r| r.state == CopyState::Rejected);
        if finished {
            if !rows.iter().any(|r| r.state == CopyState::Rejected) {
                // A crash between the last part and the notes leaves them unrecorded.
                self.record_degraded(msg, &rows).await?;
            }
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
                    .copy_in(&msg.origin.chat_ref().msg(parent.clone()), &self.to)
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
                    warn!(link = %job.link, to = %self.to, msg = %msg.origin, part, reason = %reason,
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
        let notes = self.record_degraded(msg, &rows).await?;
        Ok(if notes.is_empty() {
            MessageOutcome::Copied
        } else {
            MessageOutcome::Degraded(notes)
        })
    }

    /// Asks the sink which attachments of `msg` its copy left out and, unless `rows` (the
    /// copy's rows before this run touched them) show it done already, records the notes on
    /// the copy and counts it as degraded. Returns the notes.
    async fn record_degraded(
        &self,
        msg: &Message,
        rows: &[CopyRow],
    ) -> Result<Vec<String>, BackfillError> {
        let job = self.job;
        if msg.content.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let notes = job.sink.degraded(msg);
        let recorded = rows
            .iter()
            .any(|r| r.part == 0 && r.state == CopyState::Sent && r.detail.is_some());
        if notes.is_empty() || recorded {
            return Ok(notes);
        }
        let joined = notes.join("\n");
        self.engine
            .store
            .mark_degraded(&msg.origin, &self.to, &joined)
            .await?;
        self.bump(|s| s.degraded += 1);
        warn!(link = %job.link, to = %self.to, msg = %msg.origin, notes = %joined,
            "copied without some attachments (a note says so in the copy); see `kbbridge status`");
        Ok(notes)
    }

    /// After a crash: asks the target whether a pending part arrived.
    async fn reconcile(&self, out: Outgoing<'_>) -> Result<Option<MsgId>, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        let found = self
            .engine
            .options
            .retry
            .run(
                || job.sink.find_sent(&self.to.chat, out),
                |e, d| self.on_retry(e, d),
            )
            .await;
        match found {
            Ok(Some(id)) => {
                store
                    .mark_sent(&out.msg.origin, &self.to, out.part, &id)
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
                chat: self.to.clone(),
                error,
            }),
        }
    }

    /// Sends one part: pace, mark pending, send with retries, mark the outcome.
    async fn send_part(&self, out: Outgoing<'_>) -> Result<PartOutcome, BackfillError> {
        let (job, store) = (self.job, &self.engine.store);
        if let Some(pacer) = self.engine.pacers.get(&self.to.platform) {
            pacer.ready().await;
        }
        // Fenced: refused (and nothing sent) if another process has taken the link over.
        store
            .mark_pending_fenced(&out.msg.origin, &self.to, out.part, self.lease)
            .await?;
        let sent = self
            .engine
            .options
            .retry
            .run(
                || job.sink.send(&self.to.chat, out),
                |e, d| self.on_retry(e, d),
            )
            .await;
        match sent {
            Ok(id) => {
                store
                    .mark_sent(&out.msg.origin, &self.to, out.part, &id)
                    .await?;
                self.bump(|s| s.parts_sent += 1);
                Ok(PartOutcome::Sent(id))
            }
            Err(AdapterError::Rejected { reason }) => {
                store
                    .mark_rejected(&out.msg.origin, &self.to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            Err(AdapterError::Unsupported(what)) => {
                let reason = format!("the target does not support {what}");
                store
                    .mark_rejected(&out.msg.origin, &self.to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            // Retries exhausted or fatal: stop the job. The part stays pending and the next run
            // reconciles it before anything else.
            Err(error) => Err(BackfillError::Sink {
                chat: self.to.clone(),
                error,
            }),
        }
    }
}
