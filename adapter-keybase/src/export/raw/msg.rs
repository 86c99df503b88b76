//! One raw `keybase chat api` wrapper (`{"msg": MsgSummary}` or `{"error": …}`): its serde
//! shape (snake_case at the top, camelCase inside `content`, as the CLI writes it; keybase-bot's
//! all-camelCase spellings accepted too), and what it is for the reader.

use serde::{Deserialize, de::IgnoredAny};

use super::system;
use crate::export::{
    RejectReason, SkipReason,
    line::{NoticeKind, Record, sender_name, sent_time},
    node::Node,
};

#[derive(Debug, Deserialize)]
struct Wrapper {
    #[serde(default)]
    msg: Option<Msg>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Msg {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    sender: Option<MsgSender>,
    #[serde(default, alias = "sentAt")]
    sent_at: Option<i64>,
    #[serde(default, alias = "sentAtMs")]
    sent_at_ms: Option<i64>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    reactions: Option<Node>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, alias = "topicName")]
    topic_name: Option<String>,
    #[serde(default, alias = "membersType")]
    members_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MsgSender {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    uid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<TextBody>,
    #[serde(default)]
    attachment: Option<AttachmentBody>,
    #[serde(default)]
    edit: Option<EditBody>,
    #[serde(default)]
    delete: Option<DeleteBody>,
    #[serde(default)]
    reaction: Option<ReactionBody>,
    #[serde(default)]
    headline: Option<HeadlineBody>,
    #[serde(default)]
    system: Option<Node>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "replyTo")]
    reply_to: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct AttachmentBody {
    #[serde(default)]
    object: Option<Asset>,
}

#[derive(Debug, Deserialize)]
struct Asset {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EditBody {
    #[serde(default, rename = "messageID", alias = "messageId")]
    message_id: Option<u64>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DeleteBody {
    #[serde(default, rename = "messageIDs", alias = "messageIds")]
    message_ids: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
struct ReactionBody {
    #[serde(default)]
    m: Option<u64>,
    #[serde(default)]
    b: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HeadlineBody {
    #[serde(default)]
    headline: Option<String>,
}

/// What a wrapper is.
#[derive(Debug)]
pub(crate) enum RawParsed {
    /// A message to replay.
    Record(Box<Record>),
    /// An edit: the new full body of `target`.
    Edit {
        chat: String,
        id: u64,
        target: u64,
        body: String,
    },
    /// A delete of `targets`.
    Delete { chat: String, targets: Vec<u64> },
    /// `sender` reacted `emoji` to `target`.
    Reaction {
        chat: String,
        id: u64,
        target: u64,
        emoji: String,
        sender: String,
        /// When the reaction was made (the reaction message's time), in milliseconds.
        at: Option<u64>,
    },
    /// Understood, not replayed.
    Skip(SkipReason),
    /// Not readable.
    Reject {
        reason: RejectReason,
        detail: String,
        at: Option<(String, u64)>,
    },
}

fn reject(reason: RejectReason, detail: impl Into<String>) -> RawParsed {
    RawParsed::Reject {
        reason,
        detail: detail.into(),
        at: None,
    }
}

/// Reads one wrapper's bytes.
pub(crate) fn parse_wrapper(bytes: &[u8]) -> RawParsed {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let detail = format!("invalid UTF-8 at byte {}", e.valid_up_to());
            return reject(RejectReason::InvalidUtf8, detail);
        }
    };
    let wrapper: Wrapper = match serde_json::from_str(text) {
        Ok(w) => w,
        Err(e) if e.is_data() => return reject(RejectReason::UnknownShape, e.to_string()),
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    match (wrapper.msg, wrapper.error) {
        (Some(msg), _) => classify(msg),
        (None, Some(_)) => RawParsed::Skip(SkipReason::Undecryptable),
        (None, None) => reject(RejectReason::UnknownShape, "neither `msg` nor `error`"),
    }
}

/// The chat of a raw message: `team#topic` for team channels, the name for direct chats.
fn chat_of(channel: Option<Channel>) -> Option<String> {
    let channel = channel?;
    let name = channel.name.filter(|n| !n.is_empty())?;
    Some(match channel.topic_name.filter(|t| !t.is_empty()) {
        Some(topic) => format!("{name}#{topic}"),
        None if channel.members_type.as_deref() == Some("team") => format!("{name}#general"),
        None => name,
    })
}

fn classify(msg: Msg) -> RawParsed {
    let Some(chat) = chat_of(msg.channel) else {
        return reject(RejectReason::MissingChannel, "no channel name");
    };
    let Some(id) = msg.id.filter(|&id| id > 0) else {
        return reject(RejectReason::MissingId, "no message id");
    };
    let fail = |reason, detail: &str| RawParsed::Reject {
        reason,
        detail: detail.to_owned(),
        at: Some((chat.clone(), id)),
    };
    let Some(content) = msg.content else {
        return fail(RejectReason::UnknownShape, "no content");
    };
    let (sender, sender_uid) = match msg.sender {
        Some(s) => {
            let uid = s.uid.clone().filter(|u| !u.is_empty());
            (sender_name(s.username, s.uid), uid)
        }
        None => (None, None),
    };
    let kind = content.kind.unwrap_or_default();
    let (text, notice, reply_to, attachment) = match kind.as_str() {
        "text" => {
            let body = content.text.unwrap_or(TextBody {
                body: None,
                reply_to: None,
            });
            (body.body.unwrap_or_default(), None, body.reply_to, None)
        }
        "attachment" => {
            let object = content.attachment.and_then(|a| a.object);
            let (title, filename) = object.map_or((None, None), |o| (o.title, o.filename));
            let node = Node::Object(
                filename
                    .map(|f| ("filename".to_owned(), Node::Str(f)))
                    .into_iter()
                    .collect(),
            );
            (title.unwrap_or_default(), None, None, Some(node))
        }
        "headline" => {
            let headline = content
                .headline
                .and_then(|h| h.headline)
                .unwrap_or_default();
            (
                format!("New headline: \"{headline}\""),
                Some(NoticeKind::Headline),
                None,
                None,
            )
        }
        "system" => {
            let text = content
                .system
                .as_ref()
                .map_or_else(|| "System message".to_owned(), system::render);
            (text, Some(NoticeKind::System), None, None)
        }
        "edit" => {
            let edit = content.edit.unwrap_or(EditBody {
                message_id: None,
                body: None,
            });
            let Some(target) = edit.message_id else {
                return fail(RejectReason::UnknownShape, "edit without messageID");
            };
            return RawParsed::Edit {
                chat,
                id,
                target,
                body: edit.body.unwrap_or_default(),
            };
        }
        "delete" => {
            let targets = content
                .delete
                .and_then(|d| d.message_ids)
                .unwrap_or_default();
            return RawParsed::Delete { chat, targets };
        }
        "reaction" => {
            let reaction = content
                .reaction
                .unwrap_or(ReactionBody { m: None, b: None });
            let (Some(target), Some(emoji), Some(sender)) = (reaction.m, reaction.b, sender) else {
                return fail(
                    RejectReason::UnknownShape,
                    "reaction without target, emoji or sender",
                );
            };
            let at = sent_time(msg.sent_at_ms, msg.sent_at)
                .ok()
                .and_then(|t| u64::try_from(t.timestamp_millis()).ok());
            return RawParsed::Reaction {
                chat,
                id,
                target,
                emoji,
                sender,
                at,
            };
        }
        "join" | "leave" | "metadata" | "tlfname" | "attachmentuploaded" | "unfurl" | "flip"
        | "pin" | "sendpayment" | "requestpayment" | "deletehistory" | "none" => {
            return RawParsed::Skip(SkipReason::NoText);
        }
        other => {
            return fail(
                RejectReason::UnknownShape,
                &format!("unknown content type {other:?}"),
            );
        }
    };
    let Some(sender) = sender else {
        return fail(RejectReason::MissingSender, "no sender username or uid");
    };
    let sent_at = match sent_time(msg.sent_at_ms, msg.sent_at) {
        Ok(t) => t,
        Err(detail) => return fail(RejectReason::MissingTime, detail),
    };
    RawParsed::Record(Box::new(Record {
        id,
        channel: chat.clone(),
        chat,
        legacy: false,
        notice,
        sender,
        sender_uid,
        sent_at,
        text,
        reply_to: reply_to.filter(|&r| r > 0),
        edited: false,
        attachment,
        reactions: msg.reactions,
        exact_keys: true,
    }))
}
