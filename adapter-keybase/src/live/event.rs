//! A Keybase `MsgSummary` (an api-listen line or a catch-up `read` wrapper) → core
//! [`Event`]s, each with where it came from: the Keybase id that carried it (the position a
//! catch-up continues after), the id of the thing itself (a reaction message's own id, which a
//! later un-reaction deletes), and whether it was made on this device.
//!
//! Keybase sends every change as a message of its own (keybase.md §4): an edit
//! `{messageID, body}`, a reaction `{m, b}`, a delete `{messageIDs}`. A delete lists its target
//! **and** the target's edits and reactions (`go/chat/sender.go getAllDeletedEdits`), and an
//! un-reaction is a delete of the reaction message. So the reader remembers, per conversation,
//! which ids were reactions (target, emoji, who) and which were edits, and expands a delete
//! into one [`Event::Delete`] for the target and one [`Event::ReactionRemoved`] for a reaction
//! taken back on its own; the edits and reactions listed with their target go with it. An id
//! it never saw (a reaction made before kbbridge watched) becomes a `Delete` of that id, which
//! the relay resolves against its ID map (a reaction it copied, or nothing).
//!
//! Echoes are told by device, never by username: `local` is api-listen's `source: "local"`
//! (made on this device) or, in a catch-up (where `read` has no source), sender **and** device
//! equal to this client's ([`Identity`]). The bridge account's messages from its owner's phone
//! are therefore not echoes.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
};

use bridge_core::{
    Attachment, ChatId, Content, Cursor, Event, Incoming, Message, MessageKind, MsgId, MsgRef,
    Platform, Sender, Syntax, UserId, safe_file_name,
};
use chrono::{DateTime, Utc};
use tracing::{debug, trace, warn};

use super::{
    download::Downloader,
    identity::Identity,
    summary::{Asset, ListenLine, Summary, SummarySender, TextBody, Wrapper},
};
use crate::export::{attachments::mime_for, raw::system};

/// How many reaction and edit ids the reader remembers (oldest forgotten first): enough for
/// days of busy channels; a forgotten one still becomes a `Delete` the relay can resolve.
const REMEMBERED: usize = 100_000;

/// One core event from Keybase, with what the core model does not carry (yet).
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// The conversation (64 hex digits): stable across renames, unlike the chat name.
    pub conversation_id: String,
    /// The Keybase id of the message that carried the event (a delete message for a
    /// `Delete`): the live position of the chat once it is handled.
    pub position: u64,
    /// The Keybase id of what the event is about on its own: the message (`Message`), the edit
    /// message (`Edit`), the reaction message (`ReactionAdded`, and the removed one for
    /// `ReactionRemoved`: the id a copy of the reaction is keyed by), the deleted message
    /// (`Delete`).
    pub keybase_id: u64,
    /// Made on this device (this client's own sends): an echo of what kbbridge wrote.
    pub local: bool,
    /// The sender's device name (for logs and echo checks).
    pub device: String,
    /// What happened.
    pub event: Event,
}

impl LiveEvent {
    /// The event as the relay takes it: its position is the Keybase id that carried it, and
    /// what this device made is kbbridge's own.
    pub fn into_incoming(self) -> Incoming {
        Incoming {
            event: self.event,
            position: Some(Cursor::new(self.position.to_string())),
            own: self.local,
        }
    }
}

/// What an id was, remembered for the deletes that list it.
#[derive(Clone, Debug)]
enum Known {
    Reaction {
        target: u64,
        emoji: String,
        sender: Sender,
    },
    Edit,
}

/// An api-listen line the reader could not use.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not JSON of the expected shape. (The line itself is only logged at TRACE: it may hold
    /// a message's text.)
    #[error("unreadable api-listen line: {detail}")]
    Unreadable {
        /// What is wrong.
        detail: String,
    },
    /// A message the service could not decrypt (`{"type":"chat","error":…}`): it cannot be
    /// relayed; a catch-up will not see it either.
    #[error("keybase could not decrypt a message: {0}")]
    Undecryptable(String),
}

/// Turns Keybase messages into [`LiveEvent`]s, remembering reactions and edits per
/// conversation so later deletes can be expanded. One reader serves every conversation; its
/// clones share what it remembers (the listener and the catch-ups use one memory).
#[derive(Clone, Debug)]
pub struct EventReader {
    me: Identity,
    downloader: Option<Downloader>,
    memory: Arc<Mutex<Memory>>,
    /// Chat names by conversation id, where they differ from the conversation's name today (a
    /// channel renamed since its link was written keeps the name its link knows).
    names: Arc<HashMap<String, ChatId>>,
}

/// The reaction and edit ids seen, oldest first for forgetting.
#[derive(Debug, Default)]
struct Memory {
    known: HashMap<(String, u64), Known>,
    order: VecDeque<(String, u64)>,
}

impl Memory {
    fn remember(&mut self, conv: &str, id: u64, what: Known) {
        let key = (conv.to_owned(), id);
        if self.known.insert(key.clone(), what).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
    }
}

impl EventReader {
    /// A reader for the client `me`; attachments are fetched through `downloader` when a sink
    /// reads them (without one, an attachment becomes a note saying it could not be fetched).
    pub fn new(me: Identity, downloader: Option<Downloader>) -> Self {
        Self {
            me,
            downloader,
            memory: Arc::default(),
            names: Arc::default(),
        }
    }

    /// The same reader naming the conversations of `names` (by id) with the given chat names
    /// instead of their names today: a renamed channel's events keep the name its link knows.
    #[must_use]
    pub fn with_names(mut self, names: HashMap<String, ChatId>) -> Self {
        self.names = Arc::new(names);
        self
    }

    /// The client this reader takes as "this device".
    pub fn identity(&self) -> &Identity {
        &self.me
    }

    /// The events of one api-listen line. Lines of other types (`chat_conv`, `wallet`) give
    /// none.
    ///
    /// # Errors
    /// [`LineError`] for a line that is not a readable chat message.
    pub fn listen_line(&self, line: &str) -> Result<Vec<LiveEvent>, LineError> {
        let parsed: ListenLine = serde_json::from_str(line).map_err(|e| {
            trace!(line = %line, "unreadable api-listen line");
            LineError::Unreadable {
                detail: e.to_string(),
            }
        })?;
        if parsed.kind != "chat" {
            debug!(kind = %parsed.kind, "api-listen line of another type");
            return Ok(Vec::new());
        }
        match (parsed.msg, parsed.error) {
            (Some(msg), _) => Ok(self.summary(msg, Some(parsed.source == "local"))),
            (None, Some(error)) => Err(LineError::Undecryptable(error)),
            (None, None) => Err(LineError::Unreadable {
                detail: "a chat line with neither msg nor error".to_owned(),
            }),
        }
    }

    /// The events of one `read` wrapper (`{"msg": …}`), `local` decided by sender and device.
    /// An undecryptable wrapper gives none (and is logged).
    pub fn wrapper(&self, raw: &str) -> Vec<LiveEvent> {
        match serde_json::from_str::<Wrapper>(raw) {
            Ok(Wrapper { msg: Some(msg), .. }) => self.summary(msg, None),
            Ok(Wrapper { error, .. }) => {
                warn!(error = ?error, "keybase could not decrypt a message; it is not relayed");
                Vec::new()
            }
            Err(e) => {
                trace!(wrapper = %raw, "unreadable message in a keybase read");
                warn!(error = %e, "unreadable message in a keybase read; it is not relayed");
                Vec::new()
            }
        }
    }

    fn remember(&self, conv: &str, id: u64, what: Known) {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remember(conv, id, what);
    }

    /// `source_local`: api-listen's flag; `None` in a catch-up.
    fn summary(&self, msg: Summary, source_local: Option<bool>) -> Vec<LiveEvent> {
        let chat = self
            .names
            .get(&msg.conversation_id)
            .cloned()
            .unwrap_or_else(|| ChatId::new(msg.channel.chat_name()));
        let local = source_local.unwrap_or_else(|| {
            self.me
                .is_own_device(&msg.sender.username, &msg.sender.device_name)
        });
        let sender = sender_of(&msg.sender);
        let at = time_of(&msg);
        let conv = msg.conversation_id.clone();
        let one = |keybase_id: u64, event: Event| LiveEvent {
            conversation_id: conv.clone(),
            position: msg.id,
            keybase_id,
            local,
            device: msg.sender.device_name.clone(),
            event,
        };
        let refer = |id: u64| MsgRef {
            platform: Platform::Keybase,
            chat: chat.clone(),
            msg: MsgId::new(id.to_string()),
        };
        let content = msg.content;
        match content.kind.as_str() {
            "text" => {
                let text = content.text.unwrap_or(TextBody {
                    body: String::new(),
                    reply_to: None,
                });
                let m = message(
                    refer(msg.id),
                    sender,
                    at,
                    Content {
                        text: text.body,
                        syntax: Syntax::Keybase,
                        attachments: Vec::new(),
                    },
                );
                let m = Message {
                    reply_to: text
                        .reply_to
                        .filter(|&r| r > 0)
                        .map(|r| MsgId::new(r.to_string())),
                    ..m
                };
                vec![one(msg.id, Event::Message(m))]
            }
            "attachment" => {
                let asset = content.attachment.and_then(|a| a.object);
                let (title, attachment) = match asset {
                    Some(a) => {
                        let file = self.attachment(&conv, msg.id, &a);
                        (a.title, file)
                    }
                    None => (
                        String::new(),
                        Attachment::unavailable(
                            "attachment",
                            None,
                            "Keybase sent the message without its file",
                        ),
                    ),
                };
                let m = message(
                    refer(msg.id),
                    sender,
                    at,
                    Content {
                        text: title,
                        syntax: Syntax::Keybase,
                        attachments: vec![attachment],
                    },
                );
                vec![one(msg.id, Event::Message(m))]
            }
            "headline" | "system" => {
                let (text, syntax) = match (content.headline, content.system) {
                    (Some(h), _) => (format!("New headline: \"{}\"", h.headline), Syntax::Keybase),
                    (None, Some(s)) => (system::render(&s), Syntax::Plain),
                    (None, None) => ("System message".to_owned(), Syntax::Plain),
                };
                let m = Message {
                    kind: MessageKind::Notice,
                    ..message(
                        refer(msg.id),
                        sender,
                        at,
                        Content {
                            text,
                            syntax,
                            attachments: Vec::new(),
                        },
                    )
                };
                vec![one(msg.id, Event::Message(m))]
            }
            "edit" => {
                let Some(edit) = content.edit else {
                    warn!(chat = %chat, id = msg.id, "keybase edit without its target; ignored");
                    return Vec::new();
                };
                self.remember(&conv, msg.id, Known::Edit);
                let event = Event::Edit {
                    target: refer(edit.message_id),
                    sender,
                    content: Content {
                        text: edit.body,
                        syntax: Syntax::Keybase,
                        attachments: Vec::new(),
                    },
                    at,
                };
                vec![one(msg.id, event)]
            }
            "reaction" => {
                let Some(reaction) = content.reaction else {
                    warn!(chat = %chat, id = msg.id, "keybase reaction without its target; ignored");
                    return Vec::new();
                };
                self.remember(
                    &conv,
                    msg.id,
                    Known::Reaction {
                        target: reaction.m,
                        emoji: reaction.b.clone(),
                        sender: sender.clone(),
                    },
                );
                let event = Event::ReactionAdded {
                    target: refer(reaction.m),
                    sender,
                    emoji: reaction.b,
                    // Keybase takes a reaction back by deleting this message.
                    id: Some(MsgId::new(msg.id.to_string())),
                };
                vec![one(msg.id, event)]
            }
            "delete" => {
                let ids = content
                    .delete
                    .and_then(|d| d.message_ids)
                    .unwrap_or_default();
                self.expand_delete(&conv, &ids)
                    .into_iter()
                    .map(|(id, what)| {
                        let event = match what {
                            Some(Known::Reaction {
                                target,
                                emoji,
                                sender: reactor,
                            }) => Event::ReactionRemoved {
                                target: refer(target),
                                sender: reactor,
                                emoji,
                                id: Some(MsgId::new(id.to_string())),
                            },
                            _ => Event::Delete {
                                target: refer(id),
                                sender: Some(sender.clone()),
                            },
                        };
                        one(id, event)
                    })
                    .collect()
            }
            "metadata" => {
                let title = content.metadata.map(|m| m.conversation_title);
                warn!(chat = %chat, conversation = %conv, title = ?title,
                    "the keybase conversation was renamed or retitled; it is still followed by its conversation id");
                Vec::new()
            }
            other => {
                // join, leave, unfurl, pin, payments, flips…: nothing a target shows.
                debug!(chat = %chat, id = msg.id, kind = other, "keybase message type not relayed");
                Vec::new()
            }
        }
    }

    /// The ids of a delete that stand for something of their own: the deleted messages (with
    /// `None`) and reactions taken back on their own. Edits, and the edits and reactions
    /// listed with their deleted target, go with the target.
    fn expand_delete(&self, conv: &str, ids: &[u64]) -> Vec<(u64, Option<Known>)> {
        let Some(&first) = ids.iter().min() else {
            return Vec::new();
        };
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let lookup = |id: u64| memory.known.get(&(conv.to_owned(), id)).cloned();
        let mut out = Vec::new();
        for &id in ids {
            match lookup(id) {
                Some(Known::Edit) => {}
                Some(Known::Reaction { target, .. }) if ids.contains(&target) => {}
                Some(reaction @ Known::Reaction { .. }) => out.push((id, Some(reaction))),
                // One `delete` call deletes one message; the service adds that message's
                // edits and reactions, which always have higher ids. An unknown id above the
                // first of a longer list is one of those.
                None if id != first && ids.len() > 1 => {}
                None => out.push((id, None)),
            }
        }
        for &id in ids {
            memory.known.remove(&(conv.to_owned(), id));
        }
        out
    }

    fn attachment(&self, conv: &str, id: u64, asset: &Asset) -> Attachment {
        let name = if asset.filename.is_empty() {
            "attachment".to_owned()
        } else {
            safe_file_name(&asset.filename)
        };
        let Some(downloader) = &self.downloader else {
            return Attachment::unavailable(
                name,
                asset.size,
                "kbbridge has no keybase client to download it with",
            );
        };
        Attachment {
            mime: asset
                .mime_type
                .clone()
                .filter(|m| !m.is_empty())
                .or_else(|| mime_for(&name).map(str::to_owned)),
            size: asset.size,
            dimensions: None,
            data: Arc::new(downloader.blob(conv, id, &name)),
            name,
        }
    }
}

fn sender_of(s: &SummarySender) -> Sender {
    let name = if s.username.is_empty() {
        s.uid.clone()
    } else {
        s.username.clone()
    };
    Sender {
        id: UserId::new(name.clone()),
        name,
        avatar: None,
    }
}

fn time_of(msg: &Summary) -> DateTime<Utc> {
    let ms = msg
        .sent_at_ms
        .or_else(|| msg.sent_at.and_then(|s| s.checked_mul(1000)));
    ms.and_then(DateTime::from_timestamp_millis)
        .unwrap_or_else(Utc::now)
}

fn message(origin: MsgRef, sender: Sender, sent_at: DateTime<Utc>, content: Content) -> Message {
    Message {
        origin,
        sender,
        sent_at,
        kind: MessageKind::Normal,
        content,
        reply_to: None,
        reactions: Vec::new(),
        edited: false,
    }
}
