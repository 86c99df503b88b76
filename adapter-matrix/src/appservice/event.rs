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
    Syntax, UserId, model::Blob,
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
            Some(f) if f != body => (f.to_owned(), Some(text(body, formatted))),
            Some(f) => (f.to_owned(), None),
            None => (body.to_owned(), None),
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
mod tests {
    use bridge_core::Secret;
    use serde_json::{Value, json};
    use url::Url;

    use super::*;

    const ROOM: &str = "!room:example.org";

    fn client() -> Arc<MatrixClient> {
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        Arc::new(MatrixClient::new(&url, "example.org", Secret::new("t"), "kbbridge").unwrap())
    }

    fn ours() -> Ours {
        Ours::new(ruma::UserId::parse("@kbbridge:example.org").unwrap(), "kb_")
    }

    fn event(kind: &str, sender: &str, content: Value) -> Value {
        json!({
            "type": kind, "event_id": "$ev", "room_id": ROOM, "sender": sender,
            "origin_server_ts": 1_700_000_000_123_u64, "content": content,
        })
    }

    fn convert_value(v: &Value) -> Converted {
        convert(&v.to_string(), &client(), &ours())
    }

    fn target(id: &str) -> bridge_core::MsgRef {
        ChatRef::new(Platform::Matrix, ROOM).msg(id)
    }

    #[test]
    fn text_keeps_its_html_and_time() {
        let v = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.text", "body": "hi *you*",
                   "format": "org.matrix.custom.html", "formatted_body": "hi <em>you</em>"}),
        );
        let incoming = convert_value(&v).unwrap();
        assert_eq!(incoming.event_id.as_str(), "$ev");
        let Event::Message(m) = incoming.incoming.event else {
            panic!("{incoming:?}")
        };
        assert_eq!(m.origin, target("$ev"));
        assert_eq!(m.sender.id.as_str(), "@bob:example.org");
        assert_eq!(m.sender.name, "bob");
        assert_eq!(m.sent_at.timestamp_millis(), 1_700_000_000_123);
        assert_eq!(m.content.text, "hi *you*");
        assert_eq!(
            m.content.syntax,
            Syntax::MatrixHtml("hi <em>you</em>".into())
        );
        assert_eq!(m.reply_to, None);
    }

    #[test]
    fn a_reply_points_at_its_parent_without_the_quoted_fallback() {
        let v = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.text",
                   "body": "> <@kb_alice:example.org> earlier\n> more\n\nmy answer",
                   "format": "org.matrix.custom.html",
                   "formatted_body": "<mx-reply><blockquote>earlier</blockquote></mx-reply>my <b>answer</b>",
                   "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}}}),
        );
        let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
            panic!()
        };
        assert_eq!(m.reply_to, Some(MsgId::new("$parent")));
        assert_eq!(m.content.text, "my answer");
        assert_eq!(
            m.content.syntax,
            Syntax::MatrixHtml("my <b>answer</b>".into())
        );
    }

    #[test]
    fn an_edit_carries_the_new_content() {
        let v = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.text", "body": "* fixed",
                   "m.new_content": {"msgtype": "m.text", "body": "fixed"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}),
        );
        let incoming = convert_value(&v).unwrap();
        let Event::Edit {
            target: t,
            content,
            at,
            ..
        } = incoming.incoming.event
        else {
            panic!()
        };
        assert_eq!(t, target("$orig"));
        assert_eq!(content.text, "fixed");
        assert_eq!(at.timestamp_millis(), 1_700_000_000_123);
    }

    #[test]
    fn a_reaction_keeps_its_own_event_id() {
        let v = event(
            "m.reaction",
            "@bob:example.org",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$msg", "key": "🎉"}}),
        );
        let incoming = convert_value(&v).unwrap();
        assert_eq!(incoming.event_id.as_str(), "$ev");
        let Event::ReactionAdded {
            target: t,
            emoji,
            id,
            ..
        } = incoming.incoming.event
        else {
            panic!()
        };
        assert_eq!((t, emoji.as_str()), (target("$msg"), "🎉"));
        assert_eq!(id, Some(MsgId::new("$ev")), "the annotation's own ID");
    }

    #[test]
    fn redactions_name_their_target_in_every_room_version() {
        // Room versions 11 and later: in the content.
        let v11 = event(
            "m.room.redaction",
            "@bob:example.org",
            json!({"redacts": "$gone"}),
        );
        // Up to 10: at the top level.
        let mut v10 = event("m.room.redaction", "@bob:example.org", json!({}));
        v10["redacts"] = json!("$gone");
        for v in [v11, v10] {
            let Event::Delete { target: t, sender } = convert_value(&v).unwrap().incoming.event
            else {
                panic!()
            };
            assert_eq!(t, target("$gone"));
            assert_eq!(
                sender.map(|s| s.id.to_string()).as_deref(),
                Some("@bob:example.org")
            );
        }
    }

    #[test]
    fn media_become_attachments_with_captions_names_and_sizes() {
        let v = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.image", "body": "look", "filename": "cat.png",
                   "url": "mxc://example.org/abc",
                   "info": {"mimetype": "image/png", "size": 1234, "w": 640, "h": 480}}),
        );
        let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
            panic!()
        };
        assert_eq!(m.content.text, "look");
        let a = &m.content.attachments[0];
        assert_eq!(
            (a.name.as_str(), a.mime.as_deref(), a.size, a.dimensions),
            ("cat.png", Some("image/png"), Some(1234), Some((640, 480)))
        );
        assert_eq!(a.data.describe(), "mxc://example.org/abc");
        // Without a filename, the body is the name and there is no caption.
        let v = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.file", "body": "report.pdf", "url": "mxc://example.org/def"}),
        );
        let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
            panic!()
        };
        assert_eq!(m.content.text, "");
        assert_eq!(m.content.attachments[0].name, "report.pdf");
    }

    #[test]
    fn what_is_not_relayed_says_why() {
        // Unpadded base64 of 32 and 16 bytes.
        const K32: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        const IV16: &str = "AAAAAAAAAAAAAAAAAAAAAA";
        let skip = |v: Value| convert_value(&v).unwrap_err().0;
        let own = event(
            "m.room.message",
            "@kb_alice:example.org",
            json!({"msgtype": "m.text", "body": "x"}),
        );
        assert!(skip(own).contains("kbbridge itself"));
        let bot = event(
            "m.room.message",
            "@kbbridge:example.org",
            json!({"msgtype": "m.text", "body": "x"}),
        );
        assert!(skip(bot).contains("kbbridge itself"));
        let mut state = event("m.room.topic", "@bob:example.org", json!({"topic": "t"}));
        state["state_key"] = json!("");
        assert!(skip(state).contains("state event"));
        let encrypted = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.file", "body": "secret.bin", "file": {
                "url": "mxc://example.org/x", "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"],
                "alg": "A256CTR", "k": K32, "ext": true}, "iv": IV16, "hashes": {"sha256": K32},
                "v": "v2"}}),
        );
        let why = skip(encrypted);
        assert!(why.contains("encrypted"), "{why}");
        let location = event(
            "m.room.message",
            "@bob:example.org",
            json!({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}),
        );
        assert!(skip(location).contains("m.location"));
        assert!(skip(json!({"type": "m.room.message"})).contains("unreadable"));
    }
}
