//! One message copied into one target chat, part by part, exactly once: the step the backfill
//! engine and the live relay share.
//!
//! Per part, in this order (each step is safe to be interrupted after):
//! 1. the store says *sent* → nothing to do; *rejected* → the message stays rejected;
//! 2. *pending* → a run crashed during this send: ask the target whether it arrived
//!    ([`Sink::find_sent`]); if so, record it *sent*;
//! 3. otherwise wait for the pacer, write *pending* under the link's lease (fenced: refused if
//!    another process took the link over), send (retrying by error class), write *sent* with
//!    the new ID, or *rejected* with the reason.
//!
//! Then the sink is asked which attachments the copy left out, and the notes are recorded on
//! the copy (a *degraded* copy); and a copy whose text takes several parts has them recorded,
//! so that a live edit finds them all.
//!
//! A copy that a live edit has re-laid (text parts added after the files, surplus ones
//! deleted) no longer follows the message's plan of parts: seen again, it counts as complete.

use std::time::Duration;

use tracing::{debug, info, warn};

use crate::{
    adapter::{AdapterError, Mode, Outgoing, Sink},
    ids::{ChatRef, MsgId},
    model::Message,
    pacer::Pacer,
    retry::RetryPolicy,
    store::{CopyRow, CopyState, Lease, MappingStore, StoreError, TextLayout},
    telemetry,
};

/// What a delivery reports as it goes, for counters, logs and progress.
pub trait Observer: Sync {
    /// A request is retried after `delay`.
    fn retrying(&self, error: &AdapterError, delay: Duration);
    /// A part was sent.
    fn part_sent(&self) {}
    /// A part an interrupted run left pending turned out to have arrived.
    fn reconciled(&self) {}
    /// A part left pending is sent again though the target could not say whether it arrived.
    fn resent_unconfirmed(&self) {}
    /// The copy was recorded as degraded (some attachments left out, with notes).
    fn degraded(&self) {}
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Every part was already in the target (or the message was rejected before).
    Skipped,
    /// Every part is now in the target; `notes` name the attachments it left out, if any.
    Copied {
        /// The copy's notes for files it could not carry.
        notes: Vec<String>,
        /// An interrupted run had already sent all the parts it had rows for, so the store
        /// counted the message as copied before this delivery.
        counted_before: bool,
    },
    /// The target refused a part for good; the reason is recorded.
    Rejected {
        /// The target's reason.
        reason: String,
        /// As in [`Delivered::Copied`]: the store counted the message as copied before.
        counted_before: bool,
    },
}

/// Why a delivery stopped before the end. Parts already delivered stay recorded; a part left
/// *pending* is reconciled by the next delivery of the same message.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The mapping store failed (or the lease was lost): nothing more can be recorded.
    #[error("mapping store")]
    Store(#[from] StoreError),
    /// The target failed for good, or kept failing past the retry policy.
    #[error("target")]
    Sink(#[source] AdapterError),
}

/// Where and how a message is delivered.
pub struct Delivery<'a> {
    /// The mapping store.
    pub store: &'a MappingStore,
    /// The target's sink.
    pub sink: &'a dyn Sink,
    /// The target chat.
    pub to: &'a ChatRef,
    /// The link's lease, held by the caller: every pending mark is fenced by it.
    pub lease: &'a Lease,
    /// How failed requests are retried.
    pub retry: &'a RetryPolicy,
    /// The target platform's pace, if it has one.
    pub pacer: Option<&'a Pacer>,
    /// Backfill or live.
    pub mode: Mode,
}

/// What became of one part.
enum PartOutcome {
    Sent(MsgId),
    Rejected(String),
}

impl Delivery<'_> {
    /// Copies every part of `msg` not yet in the target.
    ///
    /// # Errors
    /// [`DeliveryError`]; running the same delivery again resumes exactly.
    pub async fn copy(
        &self,
        msg: &Message,
        observer: &dyn Observer,
    ) -> Result<Delivered, DeliveryError> {
        let (store, to) = (self.store, self.to);
        let parts = self.sink.parts(msg).max(1);
        let rows = store.copies(&msg.origin, to).await?;
        let rejected = rows.iter().any(|r| r.state == CopyState::Rejected);
        let finished = rejected
            || (0..parts).all(|p| {
                rows.iter()
                    .any(|r| r.part == p && r.state != CopyState::Pending)
            });
        if finished {
            if !rejected {
                // A crash between the last part and the notes leaves them unrecorded.
                self.record_degraded(msg, &rows, observer).await?;
                self.record_text(msg, parts).await?;
            }
            debug!(msg = %msg.origin, "already copied, skipping");
            return Ok(Delivered::Skipped);
        }
        if !rows.is_empty() && self.relaid(msg).await? {
            // Its parts were deleted or added by an edit, not lost by a crash.
            debug!(msg = %msg.origin, "already copied and since edited, skipping");
            return Ok(Delivered::Skipped);
        }

        // A crash between two parts leaves only sent rows; the store already counts such a
        // message as copied (it cannot know the part count), so it must not be counted again.
        let counted_before = !rows.is_empty() && rows.iter().all(|r| r.state == CopyState::Sent);
        let reply_to = match &msg.reply_to {
            Some(parent) => {
                store
                    .copy_in(&msg.origin.chat_ref().msg(parent.clone()), to)
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
                mode: self.mode,
            };
            let outcome = match row.map(|r| (r.state, r.msg.as_ref())) {
                Some((CopyState::Sent, Some(id))) => PartOutcome::Sent(id.clone()),
                Some((CopyState::Pending, _)) => match self.reconcile(out, observer).await? {
                    Some(id) => PartOutcome::Sent(id),
                    None => self.send_part(out, observer).await?,
                },
                _ => self.send_part(out, observer).await?,
            };
            match outcome {
                PartOutcome::Sent(id) => earlier.push(id),
                PartOutcome::Rejected(reason) => {
                    // Later parts build on earlier ones (a reaction on the message), so the
                    // whole message is rejected; the reason names the part.
                    warn!(to = %to, msg = %msg.origin, part, reason = %reason,
                        "target rejected the message; recorded and skipped");
                    return Ok(Delivered::Rejected {
                        reason,
                        counted_before,
                    });
                }
            }
        }
        let notes = self.record_degraded(msg, &rows, observer).await?;
        self.record_text(msg, parts).await?;
        Ok(Delivered::Copied {
            notes,
            counted_before,
        })
    }

    /// Asks the sink which attachments of `msg` its copy left out and, unless `rows` (the
    /// copy's rows before this delivery touched them) show it done already, records the notes
    /// on the copy. Returns the notes.
    async fn record_degraded(
        &self,
        msg: &Message,
        rows: &[CopyRow],
        observer: &dyn Observer,
    ) -> Result<Vec<String>, DeliveryError> {
        if msg.content.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let notes = self.sink.degraded(msg);
        let recorded = rows
            .iter()
            .any(|r| r.part == 0 && r.state == CopyState::Sent && r.detail.is_some());
        if notes.is_empty() || recorded {
            return Ok(notes);
        }
        let joined = notes.join("\n");
        self.store
            .mark_degraded(&msg.origin, self.to, &joined)
            .await?;
        observer.degraded();
        warn!(to = %self.to, msg = %msg.origin, notes = %joined,
            "copied without some attachments (a note says so in the copy); see `kbbridge status`");
        Ok(notes)
    }

    /// Records which of the copy's `parts` carry the text of `msg`, when that is more than
    /// part 0 (a copy's first record stays: edits rewrite it).
    async fn record_text(&self, msg: &Message, parts: u32) -> Result<(), StoreError> {
        let texts = self.sink.text_parts(msg).clamp(1, parts);
        if texts == 1 {
            return Ok(());
        }
        let layout = TextLayout {
            parts: (0..texts).collect(),
            next_part: parts,
            edited_at: None,
        };
        self.store
            .record_text_layout(&msg.origin, self.to, &layout)
            .await
    }

    /// Whether a live edit has re-laid the copy of `msg` in the target.
    async fn relaid(&self, msg: &Message) -> Result<bool, StoreError> {
        let layout = self.store.text_layout(&msg.origin, self.to).await?;
        Ok(layout.is_some_and(|l| l.edited_at.is_some()))
    }

    /// After a crash: asks the target whether a pending part arrived.
    async fn reconcile(
        &self,
        out: Outgoing<'_>,
        observer: &dyn Observer,
    ) -> Result<Option<MsgId>, DeliveryError> {
        let found = self
            .retry
            .run(
                || self.sink.find_sent(&self.to.chat, out),
                |e, d| observer.retrying(e, d),
            )
            .await;
        match found {
            Ok(Some(id)) => {
                self.store
                    .mark_sent(&out.msg.origin, self.to, out.part, &id)
                    .await?;
                observer.reconciled();
                info!(msg = %out.msg.origin, part = out.part,
                    "a crashed send had arrived; recorded it");
                Ok(Some(id))
            }
            Ok(None) => Ok(None),
            Err(AdapterError::Unsupported(_)) => {
                observer.resent_unconfirmed();
                warn!(msg = %out.msg.origin, part = out.part,
                    "a send was interrupted and the target cannot tell whether it arrived; \
                     sending again (possible duplicate)");
                Ok(None)
            }
            Err(error) => Err(DeliveryError::Sink(error)),
        }
    }

    /// Sends one part: pace, mark pending (fenced), send with retries, mark the outcome.
    async fn send_part(
        &self,
        out: Outgoing<'_>,
        observer: &dyn Observer,
    ) -> Result<PartOutcome, DeliveryError> {
        let (store, to) = (self.store, self.to);
        if let Some(pacer) = self.pacer {
            pacer.ready().await;
        }
        // Fenced: refused (and nothing sent) if another process has taken the link over.
        store
            .mark_pending_fenced(&out.msg.origin, to, out.part, self.lease)
            .await?;
        let started = std::time::Instant::now();
        let sent = self
            .retry
            .run(
                || self.sink.send(&to.chat, out),
                |e, d| {
                    telemetry::retrying(to.platform, e, d);
                    observer.retrying(e, d);
                },
            )
            .await;
        match sent {
            Ok(id) => {
                let mode = match self.mode {
                    Mode::Backfill => "backfill",
                    Mode::Live => "live",
                };
                telemetry::part_sent(to.platform, mode, started.elapsed());
                store.mark_sent(&out.msg.origin, to, out.part, &id).await?;
                observer.part_sent();
                Ok(PartOutcome::Sent(id))
            }
            Err(AdapterError::Rejected { reason }) => {
                store
                    .mark_rejected(&out.msg.origin, to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            Err(AdapterError::Unsupported(what)) => {
                let reason = format!("the target does not support {what}");
                store
                    .mark_rejected(&out.msg.origin, to, out.part, &reason)
                    .await?;
                Ok(PartOutcome::Rejected(reason))
            }
            // Retries exhausted or fatal: stop. The part stays pending and the next delivery
            // reconciles it before anything else.
            Err(error) => Err(DeliveryError::Sink(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{
        ids::Platform,
        testing::{FakeSink, Script, text_message},
    };

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Observer for Count {
        fn retrying(&self, _: &AdapterError, _: Duration) {}
        fn part_sent(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_live_message_is_delivered_once_and_a_rejection_is_kept() {
        let store = MappingStore::open("sqlite::memory:").await.unwrap();
        let lease = store
            .acquire_lease("link:x", "me", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let sink = FakeSink::new(Platform::Matrix).with_parts(|_| 2);
        let to = ChatRef::new(Platform::Matrix, "!r:x");
        let retry = RetryPolicy::default();
        let delivery = Delivery {
            store: &store,
            sink: &sink,
            to: &to,
            lease: &lease,
            retry: &retry,
            pacer: None,
            mode: Mode::Live,
        };
        let from = ChatRef::new(Platform::Keybase, "acme#general");
        let count = Count::default();
        let msg = text_message(&from, 1, "hello");
        let first = delivery.copy(&msg, &count).await.unwrap();
        assert!(
            matches!(first, Delivered::Copied { ref notes, counted_before: false } if notes.is_empty())
        );
        assert_eq!(
            delivery.copy(&msg, &count).await.unwrap(),
            Delivered::Skipped
        );
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "two parts, sent once");

        sink.script("2", 1, Script::Reject("too long".into()));
        let two = text_message(&from, 2, "second");
        let rejected = delivery.copy(&two, &count).await.unwrap();
        assert!(matches!(rejected, Delivered::Rejected { ref reason, .. } if reason == "too long"));
        assert_eq!(
            delivery.copy(&two, &count).await.unwrap(),
            Delivered::Skipped
        );
    }
}
