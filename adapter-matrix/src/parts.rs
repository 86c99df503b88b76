//! How one source message becomes Matrix events (its *parts*), and how each is named.
//!
//! Parts, in this order (it depends only on the message, as the engine requires):
//! 1. the body: the text, carried by the first attachment as its caption when there is one;
//! 2. one `m.image`/`m.file` per further attachment;
//! 3. one `m.reaction` per (emoji, reacting user), annotating part 0, at the time the user
//!    reacted where the source says.
//!
//! Every event carries [`SOURCE_KEY`] in its content (source chat, message and part), which is
//! how a send interrupted by a crash is found again; and its transaction ID is derived from the
//! same three, so it is unique across the whole appservice (Synapse scopes transaction IDs per
//! appservice, not per user: `matrix.md` §1.4).

use bridge_core::{Attachment, Message, MsgRef, Sender};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::emoji;

/// The content key that holds the source of every event kbbridge sends.
pub const SOURCE_KEY: &str = "org.kbbridge.source";

/// One event of a message's copy.
#[derive(Debug)]
pub enum Part<'a> {
    /// The text, on its own or as the caption of the first attachment.
    Body {
        /// The first attachment, if the message has any.
        attachment: Option<&'a Attachment>,
    },
    /// A further attachment.
    Attachment(&'a Attachment),
    /// One user's reaction.
    Reaction {
        /// The emoji (the reaction key).
        emoji: String,
        /// Who reacted.
        user: &'a Sender,
        /// When they reacted, where the source says (else the message's time is used).
        at: Option<DateTime<Utc>>,
    },
}

impl PartialEq for Part<'_> {
    /// Attachments compare by identity: the same attachment of the same message.
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Attachment, b: &Attachment| std::ptr::eq(a, b);
        match (self, other) {
            (Part::Body { attachment: a }, Part::Body { attachment: b }) => match (a, b) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            },
            (Part::Attachment(a), Part::Attachment(b)) => same(a, b),
            (
                Part::Reaction {
                    emoji: e,
                    user: u,
                    at: a,
                },
                Part::Reaction {
                    emoji: f,
                    user: v,
                    at: b,
                },
            ) => e == f && u == v && a == b,
            _ => false,
        }
    }
}

/// The parts of `msg`, in order.
pub fn parts(msg: &Message) -> Vec<Part<'_>> {
    let mut attachments = msg.content.attachments.iter();
    let mut out = vec![Part::Body {
        attachment: attachments.next(),
    }];
    out.extend(attachments.map(Part::Attachment));
    let mut seen = std::collections::HashSet::new();
    for reaction in &msg.reactions {
        let emoji = emoji::reaction_key(&reaction.emoji, reaction.exact);
        for (i, user) in reaction.users.iter().enumerate() {
            // Matrix refuses the same annotation twice from one user.
            if seen.insert((emoji.clone(), user.id.clone())) {
                out.push(Part::Reaction {
                    emoji: emoji.clone(),
                    user,
                    at: reaction.time_of(i),
                });
            }
        }
    }
    out
}

/// The content value of [`SOURCE_KEY`] for part `part` of `msg`.
pub fn source_value(msg: &Message, part: u32) -> Value {
    origin_value(&msg.origin, part)
}

/// The source key of part `part` of the copy of `origin` (what [`source_value`] writes).
pub fn origin_value(origin: &MsgRef, part: u32) -> Value {
    json!({
        "platform": origin.platform.as_str(),
        "chat": origin.chat.as_str(),
        "msg": origin.msg.as_str(),
        "part": part,
    })
}

/// Whether an event's content is part `part` of `msg`.
pub fn is_source(content: &Value, msg: &Message, part: u32) -> bool {
    is_copy_of(content, &msg.origin, part)
}

/// Whether an event's content is part `part` of the copy of `origin`.
pub fn is_copy_of(content: &Value, origin: &MsgRef, part: u32) -> bool {
    content.get(SOURCE_KEY) == Some(&origin_value(origin, part))
}

/// The transaction ID of part `part` of `msg`: `kb1.<platform>.<chat>.<msg>.<part>`, each piece
/// escaped so that no two sources share one (`.` and `%` are escaped as `%xx`).
pub fn txn_id(msg: &Message, part: u32) -> String {
    format!(
        "kb1.{}.{}.{}.{part}",
        msg.origin.platform.as_str(),
        escape(msg.origin.chat.as_str()),
        escape(msg.origin.msg.as_str())
    )
}

/// `s` as one piece of a transaction ID: letters, digits, `_` and `-` as they are, every other
/// byte as `%xx` (so `.` separates pieces unambiguously).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bridge_core::{
        ChatRef, Platform, Reaction, UserId, model::MemoryBlob, testing::text_message,
    };

    use super::*;

    fn sender(name: &str) -> Sender {
        Sender {
            id: UserId::new(name),
            name: name.into(),
            avatar: None,
        }
    }

    fn file(name: &str) -> Attachment {
        Attachment {
            name: name.into(),
            mime: None,
            size: None,
            dimensions: None,
            data: Arc::new(MemoryBlob(vec![1])),
        }
    }

    #[test]
    fn parts_are_body_attachments_then_reactions() {
        let chat = ChatRef::new(Platform::Keybase, "acme#general");
        let mut msg = text_message(&chat, 15, "look");
        assert_eq!(parts(&msg), vec![Part::Body { attachment: None }]);

        msg.content.attachments = vec![file("a.png"), file("b.txt")];
        msg.reactions = vec![
            Reaction {
                emoji: "🎉".into(),
                exact: true,
                users: vec![sender("bob"), sender("carol_x")],
                times: vec![Some(msg.sent_at + chrono::Duration::seconds(90))],
            },
            Reaction {
                emoji: "joy".into(),
                exact: false,
                users: vec![sender("bob"), sender("bob")],
                times: Vec::new(),
            },
        ];
        let p = parts(&msg);
        assert_eq!(p.len(), 5, "{p:?}");
        let later = Some(msg.sent_at + chrono::Duration::seconds(90));
        assert!(matches!(&p[2], Part::Reaction { at, .. } if *at == later));
        assert!(
            matches!(&p[3], Part::Reaction { at: None, .. }),
            "carol_x: no time"
        );
        assert!(matches!(p[0], Part::Body { attachment: Some(a) } if a.name == "a.png"));
        assert!(matches!(p[1], Part::Attachment(a) if a.name == "b.txt"));
        assert!(
            matches!(&p[2], Part::Reaction { emoji, user, .. } if emoji == "🎉" && user.name == "bob")
        );
        assert!(matches!(&p[3], Part::Reaction { user, .. } if user.name == "carol_x"));
        assert!(matches!(&p[4], Part::Reaction { emoji, .. } if emoji == "😂"));
        // The same answer every time: a resumed run relies on it.
        assert_eq!(parts(&msg), p);
    }

    #[test]
    fn txn_ids_are_unique_per_source_part() {
        let a = text_message(&ChatRef::new(Platform::Keybase, "acme#general"), 1, "");
        let b = text_message(&ChatRef::new(Platform::Keybase, "acme.general"), 1, "");
        let c = text_message(&ChatRef::new(Platform::Keybase, "acme#general"), 11, "");
        assert_eq!(txn_id(&a, 0), "kb1.keybase.acme%23general.1.0");
        let all = [txn_id(&a, 0), txn_id(&a, 1), txn_id(&b, 0), txn_id(&c, 0)];
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(is_source(
            &json!({ SOURCE_KEY: source_value(&a, 1) }),
            &a,
            1
        ));
        assert!(!is_source(
            &json!({ SOURCE_KEY: source_value(&a, 1) }),
            &a,
            0
        ));
        assert!(!is_source(
            &json!({ SOURCE_KEY: source_value(&a, 0) }),
            &c,
            0
        ));
    }
}
