//! The live sink's changes to events already sent: edits (`m.replace`), redactions, and
//! reactions that come one at a time (annotations whose event IDs are returned, so a reaction
//! taken back can be redacted).
//!
//! Edits and redactions are made by the user who sent the original (its ghost, or the bot):
//! an edit by anyone else is not shown as an edit by clients, and every user may redact its
//! own events whatever the room's power levels (an adopted room may not let the bot redact
//! others'). The sender is read from the event itself, so nothing about it needs storing.

use bridge_core::{Content, MsgId, Platform, Sender};
use rand::Rng as _;
use ruma::{
    EventId, OwnedEventId, OwnedUserId, RoomId,
    api::client::{
        message::send_message_event, redact::redact_event,
        relations::get_relating_events_with_rel_type_and_event_type as relating,
        room::get_room_event,
    },
    events::{MessageLikeEventType, TimelineEventType, relation::RelationType},
};
use serde_json::Value;
use tracing::debug;

use crate::{
    convert::{self, Style},
    emoji,
    error::MatrixError,
    rooms::raw,
    sink::MatrixSink,
};

/// An event as read back: who sent it and its content.
struct Original {
    sender: OwnedUserId,
    content: Value,
}

/// A transaction ID no other request of this appservice uses (`kb1.<what>.<random>`).
///
/// Synapse keys transaction IDs per appservice and remembers them for 30 minutes: a
/// deterministic ID would make a second, identical edit or a reaction given again after being
/// taken back return the first event and send nothing.
fn fresh_txn(what: &str) -> String {
    let n: u128 = rand::rng().random();
    format!("kb1.{what}.{n:032x}")
}

/// The transaction ID of the edit of `target` to `body`: the same edit sent again (a crash
/// between the send and its record) gets the same ID, which Synapse answers with the event it
/// already made instead of a second one.
fn edit_txn(target: &EventId, body: &str) -> String {
    // FNV-1a: stable across runs and versions, unlike std's hasher.
    let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!(
        "kb1.edit.{}.{hash:016x}",
        crate::parts::escape(target.as_str())
    )
}

fn event_id(target: &MsgId) -> Result<OwnedEventId, MatrixError> {
    EventId::parse(target.as_str())
        .map_err(|e| MatrixError::Invalid(format!("{target:?} is not an event ID: {e}")))
}

impl MatrixSink {
    /// Whether `user` is one kbbridge writes as: its bot or one of its ghosts.
    fn is_ours(&self, user: &ruma::UserId) -> bool {
        user == self.client.bot()
            || (user.server_name() == self.client.server_name()
                && user.localpart().starts_with(&self.config.ghost_prefix))
    }

    /// The sender and content of `event` in `room`, read as the bot.
    async fn original(&self, room: &RoomId, event: &EventId) -> Result<Original, MatrixError> {
        let req = get_room_event::v3::Request::new(room.to_owned(), event.to_owned());
        let answer = self.client.send(req, None).await?;
        let value: Value = answer
            .event
            .deserialize_as()
            .map_err(|e| MatrixError::Response(format!("event {event}: {e}")))?;
        let sender = value
            .get("sender")
            .and_then(Value::as_str)
            .and_then(|s| ruma::UserId::parse(s).ok())
            .ok_or_else(|| MatrixError::Response(format!("event {event} has no sender")))?;
        Ok(Original {
            sender,
            content: value.get("content").cloned().unwrap_or(Value::Null),
        })
    }

    /// The original of `event`, which kbbridge must have sent; `None` for the bot.
    async fn own_original(
        &self,
        room: &RoomId,
        event: &EventId,
    ) -> Result<(Option<OwnedUserId>, Value), MatrixError> {
        let original = self.original(room, event).await?;
        if !self.is_ours(&original.sender) {
            return Err(MatrixError::Request(format!(
                "event {event} was sent by {}, not by kbbridge: it cannot change it",
                original.sender
            )));
        }
        let as_user = (original.sender != *self.client.bot()).then_some(original.sender);
        Ok((as_user, original.content))
    }

    /// Replaces the text of `target` (an event kbbridge sent into `room`) with `content`, as
    /// the user who sent it.
    pub(crate) async fn edit_event(
        &self,
        room: &RoomId,
        target: &MsgId,
        content: &Content,
    ) -> Result<(), MatrixError> {
        let target = event_id(target)?;
        let (author, original) = self.own_original(room, &target).await?;
        let mention = |name: &str| self.mention(name);
        let style = Style {
            msgtype: "m.text",
            reply_to: None,
            mention: &mention,
        };
        let body = convert::edit(target.as_str(), content, &original, style);
        let txn = edit_txn(&target, &body.to_string());
        let req = send_message_event::v3::Request::new_raw(
            room.to_owned(),
            txn.into(),
            MessageLikeEventType::RoomMessage,
            raw(body)?,
        );
        let event = self.client.send(req, author.as_deref()).await?.event_id;
        debug!(room = %room, target = %target, event = %event, "edited");
        Ok(())
    }

    /// Redacts `target` (an event kbbridge sent into `room`) as the user who sent it. An
    /// event already redacted is redacted again without harm; one that is gone is done.
    pub(crate) async fn redact(&self, room: &RoomId, target: &MsgId) -> Result<(), MatrixError> {
        let target = event_id(target)?;
        let author = match self.own_original(room, &target).await {
            Ok((author, _)) => author,
            Err(e) if e.is("M_NOT_FOUND") => {
                debug!(room = %room, target = %target, "nothing to redact: the event is gone");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // Redacting is idempotent: a fixed ID per event lets Synapse drop a repeat outright.
        let txn = format!("kb1.redact.{}", crate::parts::escape(target.as_str()));
        let req = redact_event::v3::Request::new(room.to_owned(), target.clone(), txn.into());
        self.client.send(req, author.as_deref()).await?;
        debug!(room = %room, target = %target, "redacted");
        Ok(())
    }

    /// The platform `sender` comes from: the one whose ghost kbbridge already made for them,
    /// else Keybase (the only platform written into Matrix today). The core's `Sender` carries
    /// no platform.
    async fn source_platform(&self, sender: &Sender) -> Result<Platform, MatrixError> {
        for platform in [Platform::Keybase, Platform::Discord] {
            if self
                .store
                .ghost(Platform::Matrix, platform, &sender.id)
                .await?
                .is_some()
            {
                return Ok(platform);
            }
        }
        Ok(Platform::Keybase)
    }

    /// Adds `sender`'s reaction `emoji` to `target`, as their ghost, and returns the
    /// annotation's event ID. A reaction the ghost already made (Matrix refuses it twice) is
    /// found and its ID returned.
    pub(crate) async fn react_live(
        &self,
        room: &RoomId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<MsgId, MatrixError> {
        let target = event_id(target)?;
        let platform = self.source_platform(sender).await?;
        let ghost = self
            .ghosts
            .ensure(&self.client, &self.store, platform, sender)
            .await?;
        self.ghosts
            .ensure_joined(&self.client, room, Some(&ghost))
            .await?;
        let key = emoji::reaction_key(emoji, true);
        let req = send_message_event::v3::Request::new_raw(
            room.to_owned(),
            fresh_txn("react").into(),
            MessageLikeEventType::Reaction,
            raw(convert::live_reaction(target.as_str(), &key))?,
        );
        match self.client.send(req, Some(&ghost)).await {
            Ok(answer) => Ok(MsgId::new(answer.event_id.as_str())),
            Err(e) if e.is("M_DUPLICATE_ANNOTATION") => {
                match self.find_annotation(room, &target, &ghost, &key).await? {
                    Some(found) => Ok(found),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Takes back `sender`'s reaction `emoji` on `target`: redacts `reaction` when given, else
    /// the annotation found by ghost and key. Nothing found: nothing to take back.
    pub(crate) async fn unreact_live(
        &self,
        room: &RoomId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
        reaction: Option<&MsgId>,
    ) -> Result<(), MatrixError> {
        if let Some(reaction) = reaction {
            return self.redact(room, reaction).await;
        }
        let target = event_id(target)?;
        let ghost = self.ghosts.user_id(&self.client, sender.id.as_str())?;
        let key = emoji::reaction_key(emoji, true);
        match self.find_annotation(room, &target, &ghost, &key).await? {
            Some(found) => self.redact(room, &found).await,
            None => {
                debug!(room = %room, target = %target, key = %key, "no such reaction to take back");
                Ok(())
            }
        }
    }

    /// The annotation `key` by `ghost` on `target`, if there is one.
    async fn find_annotation(
        &self,
        room: &RoomId,
        target: &EventId,
        ghost: &ruma::UserId,
        key: &str,
    ) -> Result<Option<MsgId>, MatrixError> {
        let mut from = None;
        loop {
            let mut req = relating::v1::Request::new(
                room.to_owned(),
                target.to_owned(),
                RelationType::Annotation,
                TimelineEventType::Reaction,
            );
            req.from = from.take();
            let page = self.client.send(req, None).await?;
            for event in &page.chunk {
                let Ok(v) = event.deserialize_as::<Value>() else {
                    continue;
                };
                let by = v.get("sender").and_then(Value::as_str) == Some(ghost.as_str());
                let same = v["content"]["m.relates_to"]["key"].as_str() == Some(key);
                if let (true, true, Some(id)) = (by, same, v["event_id"].as_str()) {
                    return Ok(Some(MsgId::new(id)));
                }
            }
            match page.next_batch {
                Some(next) => from = Some(next),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_sent_again_has_the_same_transaction_id_and_another_edit_another() {
        let target = EventId::parse("$abc:example.org").unwrap();
        let other = EventId::parse("$abd:example.org").unwrap();
        let once = edit_txn(&target, r#"{"body":"* new"}"#);
        assert_eq!(once, edit_txn(&target, r#"{"body":"* new"}"#));
        assert_ne!(once, edit_txn(&target, r#"{"body":"* newer"}"#));
        assert_ne!(once, edit_txn(&other, r#"{"body":"* new"}"#));
        assert!(once.starts_with("kb1.edit."));
    }
}
