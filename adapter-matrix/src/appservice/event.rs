//! A pushed Matrix event (as the inbox holds it) → the core's [`Event`], in an envelope that
//! keeps the event's own ID.
//!
//! - `m.room.message`: text, notices (a [`MessageKind::Notice`]), emotes (`* name text`) and
//!   media (`m.image`, `m.file`, `m.video`, `m.audio`: an attachment downloaded from the
//!   homeserver when a sink reads it, with the caption as text). HTML (`formatted_body`) is
//!   kept as [`Syntax::MatrixHtml`] beside the plain body; a reply points at its parent's event
//!   and loses its quoted fallback. With `m.relates_to` `m.replace` it is an [`Event::Edit`] of
//!   the replaced event, with the `m.new_content`.
//! - `m.reaction` (`m.annotation`): [`Event::ReactionAdded`] with the annotation's own event
//!   ID, which a later redaction names.
//! - `m.room.redaction`: [`Event::Delete`] of the redacted event, which may be a message or a
//!   reaction: the caller resolves which, by the IDs it recorded.
//!
//! The sender's name is their localpart: an event does not carry the display name.

use std::sync::Arc;

use async_trait::async_trait;
use bridge_core::{
    Attachment, ChatRef, Content, Event, Incoming, Message, MessageKind, MsgId, Platform, Sender,
    Syntax, UserId, model::Blob, safe_file_name,
};
use chrono::{DateTime, Utc};
use ruma::{
    MilliSecondsSinceUnixEpoch, OwnedMxcUri,
    api::client::authenticated_media::get_content,
    events::{
        AnyMessageLikeEvent, AnyTimelineEvent, MessageLikeEvent,
        reaction::OriginalReactionEvent,
        room::{
            MediaSource,
            message::{
                FormattedBody, MessageFormat, MessageType, OriginalRoomMessageEvent, Relation,
            },
            redaction::{OriginalRoomRedactionEvent, RoomRedactionEvent},
        },
    },
};

use super::inbox::Ours;
use crate::client::MatrixClient;

/// A pushed Matrix event as the core's [`Incoming`], with its own event ID beside it (the core
/// event has no slot for the ID of an edit or a redaction itself).
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The Matrix event's own ID (for a reaction, the annotation's: also in the event).
    pub event_id: MsgId,
    /// The event. Never kbbridge's own (`own` is false: those are dropped), and without a
    /// position: the homeserver keeps what kbbridge has not acknowledged, so there is nothing
    /// to catch up from.
    pub incoming: Incoming,
}

impl Pushed {
    fn new(event_id: MsgId, event: Event) -> Self {
        Self {
            event_id,
            incoming: Incoming {
                event,
                position: None,
                own: false,
            },
        }
    }

    /// The core event.
    pub fn event(&self) -> &Event {
        &self.incoming.event
    }
}

/// An inbox item, converted; or why it is not relayed (an event type the relay does not carry,
/// a redacted event, encrypted media). The caller logs the reason and marks the item done.
pub type Converted = Result<Pushed, Skip>;

/// Why an event is not relayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Skip(pub String);

/// Converts one pushed event; events of `ours` (kbbridge's own) are skipped.
pub fn convert(payload: &str, client: &Arc<MatrixClient>, ours: &Ours) -> Converted {
    let event: AnyTimelineEvent =
        serde_json::from_str(payload).map_err(|e| Skip(format!("unreadable event: {e}")))?;
    if ours.contains(event.sender()) {
        return Err(Skip(format!(
            "sent by kbbridge itself ({})",
            event.sender()
        )));
    }
    let AnyTimelineEvent::MessageLike(event) = event else {
        return Err(Skip("a state event".to_owned()));
    };
    match event {
        AnyMessageLikeEvent::RoomMessage(MessageLikeEvent::Original(m)) => message(m, client),
        AnyMessageLikeEvent::Reaction(MessageLikeEvent::Original(r)) => Ok(reaction(r)),
        AnyMessageLikeEvent::RoomRedaction(RoomRedactionEvent::Original(r)) => redaction(r),
        other => Err(Skip(format!(
            "{} {} is not relayed (or was redacted)",
            other.event_type(),
            other.event_id()
        ))),
    }
}

fn time(ts: MilliSecondsSinceUnixEpoch) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::from(ts.get())).unwrap_or_default()
}

fn sender(user: &ruma::UserId) -> Sender {
    Sender {
        id: UserId::new(user.as_str()),
        name: user.localpart().to_owned(),
        avatar: None,
    }
}

fn message(m: OriginalRoomMessageEvent, client: &Arc<MatrixClient>) -> Converted {
    let room = ChatRef::new(Platform::Matrix, m.room_id.as_str());
    let who = sender(&m.sender);
    let event_id = MsgId::new(m.event_id.as_str());
    let mut reply_to = None;
    match m.content.relates_to {
        Some(Relation::Replacement(r)) => {
            let (_, content) = content(&r.new_content.msgtype, &who, client)?;
            let edit = Event::Edit {
                target: room.msg(r.event_id.as_str()),
                sender: who,
                content,
                at: time(m.origin_server_ts),
            };
            return Ok(Pushed::new(event_id, edit));
        }
        Some(Relation::Reply(r)) => reply_to = Some(MsgId::new(r.in_reply_to.event_id.as_str())),
        _ => {}
    }
    let (kind, mut content) = content(&m.content.msgtype, &who, client)?;
    if reply_to.is_some() {
        strip_reply_fallback(&mut content);
    }
    Ok(Pushed::new(
        event_id.clone(),
        Event::Message(Message {
            origin: room.msg(event_id),
            sender: who,
            sent_at: time(m.origin_server_ts),
            kind,
            content,
            reply_to,
            reactions: Vec::new(),
            edited: false,
        }),
    ))
}

/// Text with its HTML, where the event has some.
fn text(body: &str, formatted: Option<&FormattedBody>) -> Content {
    let syntax = match formatted {
        Some(f) if f.format == MessageFormat::Html => Syntax::MatrixHtml(f.body.clone()),
        _ => Syntax::Plain,
    };
    Content {
        text: body.to_owned(),
        syntax,
        attachments: Vec::new(),
    }
}

/// A message's kind and content from its `msgtype`.
fn content(
    msgtype: &MessageType,
    who: &Sender,
    client: &Arc<MatrixClient>,
) -> Result<(MessageKind, Content), Skip> {
    let media = |body: &str,
                 formatted: Option<&FormattedBody>,
                 filename: Option<&str>,
                 source: &MediaSource,
                 mime: Option<String>,
                 size: Option<u64>,
                 dimensions: Option<(u32, u32)>| {
        let MediaSource::Plain(uri) = source else {
            return Err(Skip("encrypted media are not relayed".to_owned()));
        };
        // With a `filename`, `body` is a caption (Matrix 1.10); without, it is the file name.
        let (name, caption) = match filename {
            Some(f) if f != body => (safe_file_name(f), Some(text(body, formatted))),
            Some(f) => (safe_file_name(f), None),
            None => (safe_file_name(body), None),
        };
        let mut content = caption.unwrap_or_default();
        content.attachments.push(Attachment {
            name,
            mime,
            size,
            dimensions,
            data: Arc::new(MatrixMedia {
                client: Arc::clone(client),
                uri: uri.clone(),
            }),
        });
        Ok((MessageKind::Normal, content))
    };
    let dims = |w: Option<ruma::UInt>, h: Option<ruma::UInt>| {
        Some((
            u32::try_from(u64::from(w?)).ok()?,
            u32::try_from(u64::from(h?)).ok()?,
        ))
    };
    let size = |s: Option<ruma::UInt>| s.map(u64::from);
    match msgtype {
        MessageType::Text(t) => Ok((MessageKind::Normal, text(&t.body, t.formatted.as_ref()))),
        MessageType::Notice(n) => Ok((MessageKind::Notice, text(&n.body, n.formatted.as_ref()))),
        MessageType::Emote(e) => {
            let mut c = text(&e.body, e.formatted.as_ref());
            c.text = format!("* {} {}", who.name, c.text);
            if let Syntax::MatrixHtml(h) = &mut c.syntax {
                *h = format!("* {} {h}", who.name);
            }
            Ok((MessageKind::Normal, c))
        }
        MessageType::Image(i) => {
            let info = i.info.as_deref();
            media(
                &i.body,
                i.formatted.as_ref(),
                i.filename.as_deref(),
                &i.source,
                info.and_then(|x| x.mimetype.clone()),
                size(info.and_then(|x| x.size)),
                info.and_then(|x| dims(x.width, x.height)),
            )
        }
        MessageType::File(f) => {
            let info = f.info.as_deref();
            media(
                &f.body,
                f.formatted.as_ref(),
                f.filename.as_deref(),
                &f.source,
                info.and_then(|x| x.mimetype.clone()),
                size(info.and_then(|x| x.size)),
                None,
            )
        }
        MessageType::Video(v) => {
            let info = v.info.as_deref();
            media(
                &v.body,
                v.formatted.as_ref(),
                v.filename.as_deref(),
                &v.source,
                info.and_then(|x| x.mimetype.clone()),
                size(info.and_then(|x| x.size)),
                info.and_then(|x| dims(x.width, x.height)),
            )
        }
        MessageType::Audio(a) => {
            let info = a.info.as_deref();
            media(
                &a.body,
                a.formatted.as_ref(),
                a.filename.as_deref(),
                &a.source,
                info.and_then(|x| x.mimetype.clone()),
                size(info.and_then(|x| x.size)),
                None,
            )
        }
        other => Err(Skip(format!(
            "{} messages are not relayed",
            other.msgtype()
        ))),
    }
}

/// Removes the quote of the parent that older clients put before a reply's text (`> <@u:s>
/// …` lines and an `<mx-reply>` block; removed from the spec in Matrix 1.13).
fn strip_reply_fallback(content: &mut Content) {
    if content.text.starts_with("> ") {
        let lines: Vec<&str> = content.text.lines().collect();
        let quoted = lines.iter().take_while(|l| l.starts_with('>')).count();
        let rest = lines[quoted..]
            .iter()
            .skip_while(|l| l.is_empty())
            .copied()
            .collect::<Vec<_>>();
        content.text = rest.join("\n");
    }
    if let Syntax::MatrixHtml(html) = &mut content.syntax {
        if let (Some(start), Some(end)) = (html.find("<mx-reply>"), html.find("</mx-reply>")) {
            if start < end {
                html.replace_range(start..end + "</mx-reply>".len(), "");
            }
        }
    }
}

fn reaction(r: OriginalReactionEvent) -> Pushed {
    let room = ChatRef::new(Platform::Matrix, r.room_id.as_str());
    let annotation = r.content.relates_to;
    let id = MsgId::new(r.event_id.as_str());
    let added = Event::ReactionAdded {
        target: room.msg(annotation.event_id.as_str()),
        sender: sender(&r.sender),
        emoji: annotation.key,
        id: Some(id.clone()),
    };
    Pushed::new(id, added)
}

fn redaction(r: OriginalRoomRedactionEvent) -> Converted {
    let room = ChatRef::new(Platform::Matrix, r.room_id.as_str());
    // Room versions up to 10 name the target at the top level, 11 and later in the content.
    let target = r
        .content
        .redacts
        .as_ref()
        .or(r.redacts.as_ref())
        .ok_or_else(|| Skip(format!("redaction {} names no event", r.event_id)))?;
    let delete = Event::Delete {
        target: room.msg(target.as_str()),
        sender: Some(sender(&r.sender)),
    };
    Ok(Pushed::new(MsgId::new(r.event_id.as_str()), delete))
}

/// A file on the homeserver, downloaded (authenticated media, as the bot) when read.
struct MatrixMedia {
    client: Arc<MatrixClient>,
    uri: OwnedMxcUri,
}

#[async_trait]
impl Blob for MatrixMedia {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        let req = get_content::v1::Request::from_uri(&self.uri)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let answer = self
            .client
            .send(req, None)
            .await
            .map_err(|e| std::io::Error::other(format!("downloading {}: {e}", self.uri)))?;
        Ok(answer.file)
    }

    fn describe(&self) -> String {
        self.uri.to_string()
    }
}

#[cfg(test)]
mod tests;
