//! One live event applied to the other chats of its link (see the module above for the rules):
//! the dispatch, messages, deletes and the journal the other operations share. Edits are in
//! `edit.rs`, reactions in `reactions.rs`.

use std::time::Duration;

use tracing::{debug, warn};

use super::{Leases, Relay, RelayError};
use crate::{
    adapter::{AdapterError, Incoming, Mode},
    delivery::{Delivered, Delivery, DeliveryError, Observer},
    ids::{ChatRef, MsgId, MsgRef},
    model::{Event, Message},
    report::Report,
    store::{CopyState, OpState},
};

/// What became of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Applied to this many other chats.
    Relayed(usize),
    /// kbbridge's own doing, seen again: not relayed back.
    Echo,
    /// A message deleted before it arrived: not copied; or an edit or reaction of such a
    /// message.
    Tombstoned,
    /// Its chat is in no link.
    Unrouted,
    /// Overtaken by a later event about the same thing, so not applied: an edit older than the
    /// one the copies already show, a reaction already taken back.
    Superseded,
    /// An edit or reaction whose message was not copied anywhere: held for the reorder window,
    /// the message did not come (or was not copied either), so the event was given up.
    GaveUp,
    /// Not applied here: written to the hand-off for the instance that holds its link
    /// (several instances on one database, `crate::handoff`), durably.
    HandedOff,
}

impl Applied {
    /// The outcome's name in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Applied::Relayed(_) => "relayed",
            Applied::Echo => "echo",
            Applied::Tombstoned => "tombstoned",
            Applied::Unrouted => "unrouted",
            Applied::Superseded => "superseded",
            Applied::GaveUp => "gave_up",
            Applied::HandedOff => "handed_off",
        }
    }
}

/// What applying an event now came to, as a chat's worker sees it.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Applied, or deliberately not: the answer for the source.
    Done(Applied),
    /// An edit or reaction whose message is not copied anywhere yet (and is not itself a
    /// copy): nothing was done; the worker holds it until the message comes.
    Early,
}

/// Logs the retries of a live delivery.
struct Retries<'a>(&'a ChatRef);

impl Observer for Retries<'_> {
    fn retrying(&self, error: &AdapterError, delay: Duration) {
        warn!(to = %self.0, error = %Report::new(error), retry_after = ?delay, "retrying");
    }
}

impl Relay {
    /// Applies `incoming` to the other chats of its link, now, in the caller's task, then saves
    /// the chat's live position. Without the reorder window of [`Relay::run`]'s workers, an
    /// edit or reaction whose message is not copied anywhere is given up at once.
    ///
    /// # Errors
    /// [`RelayError`]; what was applied stays recorded, and applying the same event again
    /// does the rest exactly once.
    pub async fn apply(
        &self,
        incoming: &Incoming,
        leases: &mut Leases,
    ) -> Result<Applied, RelayError> {
        let applied = match self.apply_now(incoming, leases).await? {
            Outcome::Done(applied) => applied,
            Outcome::Early => {
                gave_up(&incoming.event);
                Applied::GaveUp
            }
        };
        if let Some(position) = &incoming.position {
            let from = incoming.event.subject().chat_ref();
            self.store.save_live_position(&from, position).await?;
        }
        Ok(applied)
    }

    /// Applies `incoming` now, unless it is an edit or reaction that must wait for its
    /// message; saves no live position.
    pub(super) async fn apply_now(
        &self,
        incoming: &Incoming,
        leases: &mut Leases,
    ) -> Result<Outcome, RelayError> {
        let from = incoming.event.subject().chat_ref();
        let route = self
            .router
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .route(&from)
            .map(|(link, others)| (link.clone(), others.to_vec()));
        let Some((link, others)) = route else {
            debug!(chat = %from, "event of a chat no link names; ignored");
            return Ok(Outcome::Done(Applied::Unrouted));
        };
        if incoming.own {
            return Ok(Outcome::Done(Applied::Echo));
        }
        let outcome = match &incoming.event {
            Event::Message(msg) => {
                Outcome::Done(self.message(&link, msg, &from, &others, leases).await?)
            }
            Event::Edit {
                target,
                sender,
                content,
                at,
            } => {
                let edit = super::edit::Edit {
                    target,
                    sender,
                    content,
                    at: *at,
                };
                self.edit(&edit, &from, &others, leases).await?
            }
            Event::Delete { target, .. } => Outcome::Done(self.delete(target, &others).await?),
            Event::ReactionAdded {
                target,
                sender,
                emoji,
                id,
            } => {
                self.react(target, sender, emoji, id.as_ref(), &others)
                    .await?
            }
            Event::ReactionRemoved {
                target,
                sender,
                emoji,
                id,
            } => {
                self.unreact_event(target, sender, emoji, id.as_ref(), &others)
                    .await?
            }
        };
        let outcome = match outcome {
            // A link of one chat: there is no copy to wait for.
            Outcome::Early if others.is_empty() => Outcome::Done(Applied::Relayed(0)),
            outcome => outcome,
        };
        debug!(link = %link, chat = %from, ?outcome, "live event applied");
        Ok(outcome)
    }

    async fn message(
        &self,
        link: &str,
        msg: &Message,
        from: &ChatRef,
        others: &[ChatRef],
        leases: &mut Leases,
    ) -> Result<Applied, RelayError> {
        if self.store.is_copy(&msg.origin).await? {
            return Ok(Applied::Echo);
        }
        if self.store.is_tombstoned(&msg.origin).await? {
            return Ok(Applied::Tombstoned);
        }
        for to in others {
            let sink = self.sink(to.platform)?;
            let guard = self.lease(leases, from, to.platform).await?;
            let pacer = None;
            let delivery = Delivery {
                store: &self.store,
                sink: sink.as_ref(),
                to,
                lease: guard.lease(),
                retry: &self.options.retry,
                pacer,
                mode: Mode::Live,
            };
            let delivered = delivery
                .copy(msg, &Retries(to))
                .await
                .map_err(|e| match e {
                    DeliveryError::Store(e) => RelayError::Store(e),
                    DeliveryError::Sink(error) => RelayError::Sink {
                        chat: to.clone(),
                        error,
                    },
                })?;
            let outcome = match delivered {
                Delivered::Copied { notes, .. } if notes.is_empty() => Some("copied"),
                Delivered::Copied { .. } => Some("degraded"),
                Delivered::Rejected { .. } => Some("rejected"),
                Delivered::Skipped => None,
            };
            if let Some(outcome) = outcome {
                crate::telemetry::message(link, from.platform, to.platform, outcome);
            }
        }
        Ok(Applied::Relayed(others.len()))
    }

    /// The parts of `origin`'s copy in `to` a delete takes back, in part order: the sent ones,
    /// and those whose send a crash interrupted that the target shows arrived
    /// ([`Sink::find_copy`]; the message itself may be gone, deleted while kbbridge was down,
    /// so this is the only way to reach them). A part the target cannot find is warned about.
    async fn parts_to_delete(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
    ) -> Result<Vec<MsgId>, RelayError> {
        let mut parts = Vec::new();
        for row in self.store.copies(origin, to).await? {
            match (row.state, row.msg) {
                (CopyState::Sent, Some(id)) => parts.push(id),
                (CopyState::Pending, _) => {
                    let sink = self.sink(to.platform)?;
                    match with_retry(self, || sink.find_copy(&to.chat, origin, row.part)).await {
                        Ok(Some(id)) => {
                            self.store.mark_sent(origin, to, row.part, &id).await?;
                            parts.push(id);
                        }
                        Ok(None) => {}
                        Err(error) => {
                            warn!(to = %to, msg = %origin.msg, part = row.part,
                                error = %Report::new(&error),
                                "a send of this deleted message was interrupted and the target \
                                 cannot tell whether it arrived; if a copy shows there, delete \
                                 it by hand");
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(parts)
    }

    /// Runs `apply` for `op` in `to` unless the journal has it done; journals it. Returns
    /// whether it is applied: `false` when the target refused it for good (rejected, or not
    /// supported there), which is logged and journalled as done, so it is not tried again.
    pub(super) async fn journalled<F, Fut>(
        &self,
        op: &MsgRef,
        to: &ChatRef,
        apply: F,
    ) -> Result<bool, RelayError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, AdapterError>>,
    {
        if let Some(OpState::Done { .. }) = self.store.op_state(op, to).await? {
            return Ok(true);
        }
        self.store.mark_op_pending(op, to).await?;
        match apply().await {
            Ok(result) => {
                self.store.mark_op_done(op, to, result.as_deref()).await?;
                Ok(true)
            }
            Err(error) if refused(&error) => {
                warn!(to = %to, op = %op.msg, error = %Report::new(&error),
                    "the target refused this for good; skipped");
                self.store.mark_op_done(op, to, None).await?;
                Ok(false)
            }
            Err(error) => Err(RelayError::Sink {
                chat: to.clone(),
                error,
            }),
        }
    }

    async fn delete(&self, target: &MsgRef, others: &[ChatRef]) -> Result<Applied, RelayError> {
        if let Some(reaction) = self.store.source_reaction(target).await? {
            // Keybase and Matrix take a reaction back by deleting the reaction's own ID.
            return self.unreact_source(&reaction, others).await;
        }
        if self.store.is_copy(target).await? {
            return Ok(Applied::Echo);
        }
        let op = op(target, "delete");
        let (mut copied, mut done) = (0, 0);
        for to in others {
            let parts = self.parts_to_delete(target, to).await?;
            if parts.is_empty() {
                continue;
            }
            copied += 1;
            let sink = self.sink(to.platform)?;
            let applied = self
                .journalled(&op, to, || async {
                    // Later parts first: a reply or reaction part never outlives its message.
                    for part in parts.iter().rev() {
                        with_retry(self, || sink.delete(&to.chat, part)).await?;
                    }
                    Ok(None)
                })
                .await?;
            done += usize::from(applied);
        }
        if copied == 0 {
            // Deleted before any copy was made: a late arrival must not be copied.
            self.store.add_tombstone(target).await?;
        }
        Ok(Applied::Relayed(done))
    }

    /// The answer for an edit or reaction of `target` that no other chat has a copy of: wait
    /// for the message, unless it was deleted before it came.
    pub(super) async fn not_yet(&self, target: &MsgRef) -> Result<Outcome, RelayError> {
        if self.store.is_tombstoned(target).await? {
            return Ok(Outcome::Done(Applied::Tombstoned));
        }
        Ok(Outcome::Early)
    }
}

/// Logs an edit or reaction given up because its message never came.
pub(super) fn gave_up(event: &Event) {
    let what = match event {
        Event::Edit { .. } => "an edit",
        Event::ReactionAdded { .. } => "a reaction",
        Event::ReactionRemoved { .. } => "a reaction taken back",
        Event::Message(_) | Event::Delete { .. } => "an event",
    };
    let msg = event.subject();
    warn!(chat = %msg.chat_ref(), msg = %msg.msg, what,
        "its message was not copied within the reorder window; given up");
}

/// Whether a target refused a request for good: retrying it, now or after a restart, cannot
/// help.
pub(super) fn refused(error: &AdapterError) -> bool {
    matches!(
        error,
        AdapterError::Rejected { .. } | AdapterError::Unsupported(_)
    )
}

/// The journal key of an operation on `subject`: the subject's chat, and a text that is the
/// same each time the same operation is seen again.
pub(super) fn op(subject: &MsgRef, what: &str) -> MsgRef {
    subject
        .chat_ref()
        .msg(MsgId::new(format!("{what}:{}", subject.msg)))
}

/// Runs a target request with the relay's retry policy, logging each retry.
pub(super) async fn with_retry<T, F, Fut>(relay: &Relay, f: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    relay
        .options
        .retry
        .run(f, |e, d| {
            warn!(error = %Report::new(e), retry_after = ?d, "retrying");
        })
        .await
}
