//! One live event applied to the other chats of its link (see the module above for the rules).

use std::time::Duration;

use tracing::{debug, warn};

use super::{Leases, Relay, RelayError};
use crate::{
    adapter::{AdapterError, Incoming, Mode, ReactionStyle},
    delivery::{Delivery, DeliveryError, Observer},
    ids::{ChatRef, MsgId, MsgRef},
    model::{Content, Event, Message, Sender},
    store::{CopyState, OpState, ReactionCopy},
};

/// What became of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Applied to this many other chats.
    Relayed(usize),
    /// kbbridge's own doing, seen again: not relayed back.
    Echo,
    /// A message deleted before it arrived: not copied.
    Tombstoned,
    /// Its chat is in no link.
    Unrouted,
}

/// Logs the retries of a live delivery.
struct Retries<'a>(&'a ChatRef);

impl Observer for Retries<'_> {
    fn retrying(&self, error: &AdapterError, delay: Duration) {
        warn!(to = %self.0, error = %crate::report::Report::new(error), retry_after = ?delay,
            "retrying");
    }
}

impl Relay {
    /// Applies `incoming` to the other chats of its link, now, in the caller's task (each
    /// chat's worker calls it in order), then saves the chat's live position.
    ///
    /// # Errors
    /// [`RelayError`]; what was applied stays recorded, and applying the same event again
    /// does the rest exactly once.
    pub async fn apply(
        &self,
        incoming: &Incoming,
        leases: &mut Leases,
    ) -> Result<Applied, RelayError> {
        let from = incoming.event.subject().chat_ref();
        let Some((link, others)) = self.router.route(&from) else {
            debug!(chat = %from, "event of a chat no link names; ignored");
            return Ok(Applied::Unrouted);
        };
        let others = others.to_vec();
        let applied = if incoming.own {
            Applied::Echo
        } else {
            match &incoming.event {
                Event::Message(msg) => self.message(msg, &from, &others, leases).await?,
                Event::Edit {
                    target,
                    sender,
                    content,
                    at,
                } => {
                    let op = op(target, &format!("edit@{}", at.timestamp_millis()));
                    self.edit(target, &op, sender, content, &others).await?
                }
                Event::Delete { target, .. } => self.delete(target, &others).await?,
                Event::ReactionAdded {
                    target,
                    sender,
                    emoji,
                    ..
                } => self.react(target, sender, emoji, &others).await?,
                Event::ReactionRemoved {
                    target,
                    sender,
                    emoji,
                    ..
                } => self.unreact(target, sender, emoji, &others).await?,
            }
        };
        debug!(link = %link, chat = %from, ?applied, "live event applied");
        if let Some(position) = &incoming.position {
            self.store.save_live_position(&from, position).await?;
        }
        Ok(applied)
    }

    async fn message(
        &self,
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
            delivery
                .copy(msg, &Retries(to))
                .await
                .map_err(|e| match e {
                    DeliveryError::Store(e) => RelayError::Store(e),
                    DeliveryError::Sink(error) => RelayError::Sink {
                        chat: to.clone(),
                        error,
                    },
                })?;
        }
        Ok(Applied::Relayed(others.len()))
    }

    /// The sent parts of `origin`'s copy in `to`, in part order.
    async fn sent_parts(&self, origin: &MsgRef, to: &ChatRef) -> Result<Vec<MsgId>, RelayError> {
        Ok(self
            .store
            .copies(origin, to)
            .await?
            .into_iter()
            .filter(|r| r.state == CopyState::Sent)
            .filter_map(|r| r.msg)
            .collect())
    }

    /// Runs `apply` for `op` in `to` unless the journal has it done; journals it.
    async fn journalled<F, Fut>(
        &self,
        op: &MsgRef,
        to: &ChatRef,
        apply: F,
    ) -> Result<(), RelayError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, AdapterError>>,
    {
        if let Some(OpState::Done { .. }) = self.store.op_state(op, to).await? {
            return Ok(());
        }
        self.store.mark_op_pending(op, to).await?;
        let result = apply().await.map_err(|error| RelayError::Sink {
            chat: to.clone(),
            error,
        })?;
        self.store.mark_op_done(op, to, result.as_deref()).await?;
        Ok(())
    }

    async fn edit(
        &self,
        target: &MsgRef,
        op: &MsgRef,
        sender: &Sender,
        content: &Content,
        others: &[ChatRef],
    ) -> Result<Applied, RelayError> {
        if self.store.is_copy(target).await? {
            return Ok(Applied::Echo);
        }
        let mut done = 0;
        for to in others {
            let Some(first) = self.sent_parts(target, to).await?.into_iter().next() else {
                warn!(to = %to, msg = %target, "an edit of a message not copied there; dropped");
                continue;
            };
            let sink = self.sink(to.platform)?;
            self.journalled(op, to, || async {
                with_retry(self, || sink.edit(&to.chat, &first, sender, content)).await?;
                Ok(None)
            })
            .await?;
            done += 1;
        }
        Ok(Applied::Relayed(done))
    }

    async fn delete(&self, target: &MsgRef, others: &[ChatRef]) -> Result<Applied, RelayError> {
        if self.store.is_copy(target).await? {
            return Ok(Applied::Echo);
        }
        let op = op(target, "delete");
        let mut done = 0;
        for to in others {
            let parts = self.sent_parts(target, to).await?;
            if parts.is_empty() {
                continue;
            }
            let sink = self.sink(to.platform)?;
            self.journalled(&op, to, || async {
                // Later parts first: a reply or reaction part never outlives its message.
                for part in parts.iter().rev() {
                    with_retry(self, || sink.delete(&to.chat, part)).await?;
                }
                Ok(None)
            })
            .await?;
            done += 1;
        }
        if done == 0 {
            // Deleted before any copy was made: a late arrival must not be copied.
            self.store.add_tombstone(target).await?;
        }
        Ok(Applied::Relayed(done))
    }

    /// The origin of `target`: reactions are mostly on copies (a person reacting to a bridged
    /// message); they belong to the origin and go to every other chat of the link, the
    /// origin's included.
    async fn origin(&self, target: &MsgRef) -> Result<MsgRef, RelayError> {
        Ok(self
            .store
            .origin_of(target)
            .await?
            .unwrap_or_else(|| target.clone()))
    }

    async fn react(
        &self,
        target: &MsgRef,
        sender: &Sender,
        emoji: &str,
        others: &[ChatRef],
    ) -> Result<Applied, RelayError> {
        let origin = self.origin(target).await?;
        let mut done = 0;
        for to in others {
            let Some(msg) = self.store.copy_in(target, to).await? else {
                warn!(to = %to, msg = %target, "a reaction on a message not copied there; dropped");
                continue;
            };
            let sink = self.sink(to.platform)?;
            let op = reaction_op(&origin, sender, emoji);
            let shared = sink.reaction_style() == ReactionStyle::Shared;
            self.journalled(&op, to, || async {
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
            done += 1;
        }
        Ok(Applied::Relayed(done))
    }

    async fn unreact(
        &self,
        target: &MsgRef,
        sender: &Sender,
        emoji: &str,
        others: &[ChatRef],
    ) -> Result<Applied, RelayError> {
        let origin = self.origin(target).await?;
        let mut done = 0;
        for to in others {
            let sink = self.sink(to.platform)?;
            let Some((copy, left)) = self
                .store
                .remove_reaction_copy(&origin, &sender.name, emoji, to)
                .await?
            else {
                continue;
            };
            // The same user may give the same reaction again later.
            self.store
                .forget_op(&reaction_op(&origin, sender, emoji), to)
                .await?;
            // Shared: taken back with the last user sharing it.
            if sink.reaction_style() == ReactionStyle::PerUser || left == 0 {
                let reaction = copy.reaction.as_ref();
                with_retry(self, || {
                    sink.unreact(&to.chat, &copy.msg, sender, emoji, reaction)
                })
                .await
                .map_err(|error| RelayError::Sink {
                    chat: to.clone(),
                    error,
                })?;
            }
            done += 1;
        }
        Ok(Applied::Relayed(done))
    }
}

/// The journal key of an operation on `subject`: the subject's chat, and a text that is the
/// same each time the same operation is seen again.
fn op(subject: &MsgRef, what: &str) -> MsgRef {
    subject
        .chat_ref()
        .msg(MsgId::new(format!("{what}:{}", subject.msg)))
}

/// The journal key of `sender`'s `emoji` reaction on `origin`: one reaction per (user, emoji)
/// stands at a time, whatever IDs the platforms give it.
fn reaction_op(origin: &MsgRef, sender: &Sender, emoji: &str) -> MsgRef {
    op(origin, &format!("react:{}:{emoji}", sender.name))
}

fn store_err(e: crate::store::StoreError) -> AdapterError {
    AdapterError::Fatal(Box::new(e))
}

/// Runs a target request with the relay's retry policy, logging each retry.
async fn with_retry<T, F, Fut>(relay: &Relay, f: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    relay
        .options
        .retry
        .run(f, |e, d| {
            warn!(error = %crate::report::Report::new(e), retry_after = ?d, "retrying");
        })
        .await
}
