//! Reactions added and taken back, by (user, emoji) or by the reaction's own ID.
//!
//! A reaction belongs to the origin of the message reacted to (people react to copies) and
//! goes to every other chat of the link, the origin's included. A reaction with an ID of its
//! own (a Keybase reaction message, a Matrix annotation) is recorded under it, because that is
//! how those sources take it back: a delete or redaction of that ID, which the relay then
//! applies exactly as the matching [`Event::ReactionRemoved`](crate::model::Event).

use tracing::warn;

use super::{
    Relay, RelayError,
    apply::{Applied, Outcome, op, with_retry},
};
use crate::{
    adapter::{AdapterError, ReactionStyle},
    ids::{ChatRef, MsgId, MsgRef},
    model::Sender,
    report::Report,
    store::{ReactionCopy, SourceReaction, StoreError},
};

impl Relay {
    /// The origin of `target`: itself, unless it is a copy.
    async fn origin(&self, target: &MsgRef) -> Result<MsgRef, RelayError> {
        Ok(self
            .store
            .origin_of(target)
            .await?
            .unwrap_or_else(|| target.clone()))
    }

    /// Whether any of `others` has a copy of `msg`.
    async fn copied_anywhere(&self, msg: &MsgRef, others: &[ChatRef]) -> Result<bool, RelayError> {
        for to in others {
            if self.store.copy_in(msg, to).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn react(
        &self,
        target: &MsgRef,
        sender: &Sender,
        emoji: &str,
        id: Option<&MsgId>,
        others: &[ChatRef],
    ) -> Result<Outcome, RelayError> {
        let own_id = id.map(|id| target.chat_ref().msg(id.clone()));
        if let Some(own_id) = &own_id {
            let known = self.store.source_reaction(own_id).await?;
            if known.is_some_and(|r| r.removed) {
                // Seen again after it was taken back (a replay): it stays taken back.
                return Ok(Outcome::Done(Applied::Superseded));
            }
        }
        let origin = self.origin(target).await?;
        let mut on = Vec::new();
        let mut missing = Vec::new();
        for to in others {
            match self.store.copy_in(target, to).await? {
                Some(msg) => on.push((to, msg)),
                None => missing.push(to),
            }
        }
        if on.is_empty() && origin == *target {
            return self.not_yet(target).await;
        }
        for to in missing {
            warn!(to = %to, msg = %target, "a reaction on a message not copied there; dropped");
        }
        if let Some(own_id) = own_id {
            // Before any target: a crash half-way must still let the un-reaction find it.
            let reaction = SourceReaction {
                id: own_id,
                origin: origin.clone(),
                sender: sender.id.clone(),
                sender_name: sender.name.clone(),
                emoji: emoji.to_owned(),
                removed: false,
            };
            self.store.record_source_reaction(&reaction).await?;
        }
        let mut done = 0;
        for (to, msg) in on {
            let sink = self.sink(to.platform)?;
            let op = reaction_op(&origin, sender, emoji);
            let shared = sink.reaction_style() == ReactionStyle::Shared;
            let applied = self
                .journalled(&op, to, || async {
                    // Shared: only the first user's reaction is made on the target.
                    let first = !shared
                        || self
                            .store
                            .reaction_count(to, &msg, emoji)
                            .await
                            .map_err(store_err)?
                            == 0;
                    let reaction = if first {
                        with_retry(self, || sink.react(&to.chat, &msg, sender, emoji)).await?
                    } else {
                        None
                    };
                    let copy = ReactionCopy {
                        origin: origin.clone(),
                        sender: sender.name.clone(),
                        emoji: emoji.to_owned(),
                        to: to.clone(),
                        msg: msg.clone(),
                        reaction: reaction.clone(),
                    };
                    self.store
                        .add_reaction_copy(&copy)
                        .await
                        .map_err(store_err)?;
                    Ok(reaction.map(|r| r.to_string()))
                })
                .await?;
            done += usize::from(applied);
        }
        Ok(Outcome::Done(Applied::Relayed(done)))
    }

    /// A [`crate::model::Event::ReactionRemoved`]: found by its own ID when it has one the
    /// relay recorded, else by (message, user, emoji).
    pub(super) async fn unreact_event(
        &self,
        target: &MsgRef,
        sender: &Sender,
        emoji: &str,
        id: Option<&MsgId>,
        others: &[ChatRef],
    ) -> Result<Outcome, RelayError> {
        if let Some(id) = id {
            let own_id = target.chat_ref().msg(id.clone());
            if let Some(known) = self.store.source_reaction(&own_id).await? {
                return Ok(Outcome::Done(self.unreact_source(&known, others).await?));
            }
        }
        let origin = self.origin(target).await?;
        let done = self.unreact(&origin, sender, emoji, others).await?;
        if done == 0 && origin == *target && !self.copied_anywhere(target, others).await? {
            return self.not_yet(target).await;
        }
        Ok(Outcome::Done(Applied::Relayed(done)))
    }

    /// Takes back `known`, a reaction recorded under its own ID (named by a
    /// `ReactionRemoved` or by a delete of that ID).
    pub(super) async fn unreact_source(
        &self,
        known: &SourceReaction,
        others: &[ChatRef],
    ) -> Result<Applied, RelayError> {
        if known.removed {
            return Ok(Applied::Superseded);
        }
        let sender = Sender {
            id: known.sender.clone(),
            name: known.sender_name.clone(),
            avatar: None,
        };
        let done = self
            .unreact(&known.origin, &sender, &known.emoji, others)
            .await?;
        self.store.mark_source_reaction_removed(&known.id).await?;
        Ok(Applied::Relayed(done))
    }

    /// Takes back `sender`'s `emoji` on `origin` in each of `others` that has it; returns in
    /// how many.
    async fn unreact(
        &self,
        origin: &MsgRef,
        sender: &Sender,
        emoji: &str,
        others: &[ChatRef],
    ) -> Result<usize, RelayError> {
        let mut done = 0;
        for to in others {
            let sink = self.sink(to.platform)?;
            let Some((copy, left)) = self
                .store
                .remove_reaction_copy(origin, &sender.name, emoji, to)
                .await?
            else {
                continue;
            };
            // The same user may give the same reaction again later.
            self.store
                .forget_op(&reaction_op(origin, sender, emoji), to)
                .await?;
            // Shared: taken back with the last user sharing it.
            if sink.reaction_style() == ReactionStyle::PerUser || left == 0 {
                let reaction = copy.reaction.as_ref();
                let result = with_retry(self, || {
                    sink.unreact(&to.chat, &copy.msg, sender, emoji, reaction)
                })
                .await;
                match result {
                    Ok(()) => {}
                    Err(error) if super::apply::refused(&error) => {
                        warn!(to = %to, msg = %copy.msg, error = %Report::new(&error),
                            "the target refused to take a reaction back; skipped");
                        continue;
                    }
                    Err(error) => {
                        return Err(RelayError::Sink {
                            chat: to.clone(),
                            error,
                        });
                    }
                }
            }
            done += 1;
        }
        Ok(done)
    }
}

/// The journal key of `sender`'s `emoji` reaction on `origin`: one reaction per (user, emoji)
/// stands at a time, whatever IDs the platforms give it.
fn reaction_op(origin: &MsgRef, sender: &Sender, emoji: &str) -> MsgRef {
    op(origin, &format!("react:{}:{emoji}", sender.name))
}

fn store_err(e: StoreError) -> AdapterError {
    AdapterError::Fatal(Box::new(e))
}
