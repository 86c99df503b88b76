//! What an adapter provides: a history source, a live source, a sink, and the error they share.
//!
//! An adapter implements one, two or all three traits. Abilities a platform lacks are default
//! methods that return [`AdapterError::Unsupported`]; there is no capability-interface zoo.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    ids::{ChatId, Cursor, MsgId, MsgRef, Platform},
    model::{ChatInfo, ChatKind, Content, Event, Message, Sender},
};

/// Any error an adapter wraps as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An adapter's failure, classified by what the engine does next.
///
/// Each adapter converts its own error type into this in one place, where the classification
/// decisions live and get reviewed.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The target asked us to slow down: wait `retry_after`, then retry the same item.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long the target asked us to wait.
        retry_after: Duration,
    },
    /// A passing fault (5xx, dropped connection, timeout): back off and retry, then give up.
    /// Shown as its cause: the class says what the engine does, the cause what happened.
    #[error(transparent)]
    Transient(BoxError),
    /// The target refused this item for good (too large, invalid): record it, skip it, go on.
    #[error("rejected: {reason}")]
    Rejected {
        /// Why, in words an operator can act on.
        reason: String,
    },
    /// The adapter cannot do this at all (e.g. edit on a platform without edits).
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// Nothing more can work on this link (bad credentials, missing chat): stop it. Shown as
    /// its cause.
    #[error(transparent)]
    Fatal(BoxError),
}

impl AdapterError {
    /// A transient error from a message.
    pub fn transient(msg: impl Into<String>) -> Self {
        AdapterError::Transient(msg.into().into())
    }

    /// A fatal error from a message.
    pub fn fatal(msg: impl Into<String>) -> Self {
        AdapterError::Fatal(msg.into().into())
    }

    /// A rejection with a reason.
    pub fn rejected(reason: impl Into<String>) -> Self {
        AdapterError::Rejected {
            reason: reason.into(),
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AdapterError::RateLimited { .. } | AdapterError::Transient(_)
        )
    }
}

/// One page of a chat's history.
#[derive(Debug, Default)]
pub struct Page {
    /// Messages, oldest first.
    pub messages: Vec<Message>,
    /// Where the next page starts; `None` when the history is exhausted.
    pub next: Option<Cursor>,
}

/// A chat history that can be read page by page, oldest first (an export, a platform's API).
#[async_trait]
pub trait HistorySource: Send + Sync {
    /// The platform the history comes from.
    fn platform(&self) -> Platform;

    /// Up to `limit` messages of `chat`, oldest first, strictly after `after` (`None` = from
    /// the beginning).
    ///
    /// # Errors
    /// As classified by [`AdapterError`]; a source that cannot read a chat at all is `Fatal`.
    async fn page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, AdapterError>;

    /// How many messages `chat` has, when the source knows without reading them all.
    ///
    /// # Errors
    /// As for [`HistorySource::page`].
    async fn count(&self, _chat: &ChatId) -> Result<Option<u64>, AdapterError> {
        Ok(None)
    }

    /// What a target needs to know to create the copy of `chat` (name, topic, enclosing
    /// groups, members). The default knows only the ID.
    ///
    /// # Errors
    /// As for [`HistorySource::page`].
    async fn chat_info(&self, chat: &ChatId) -> Result<ChatInfo, AdapterError> {
        Ok(ChatInfo {
            chat: crate::ids::ChatRef {
                platform: self.platform(),
                chat: chat.clone(),
            },
            name: chat.to_string(),
            topic: None,
            path: Vec::new(),
            kind: ChatKind::Channel,
        })
    }
}

/// One live event as a source delivers it, with what the relay needs to place it.
///
/// Serialisable, so that one instance's source can hand it to another instance's relay through
/// the store (`crate::handoff`); attachments must then be read into memory first.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Incoming {
    /// What happened.
    pub event: Event,
    /// Where the source stands after this event (a Keybase message ID, a Discord snowflake):
    /// stored per chat, so a restart catches up strictly after it.
    pub position: Option<Cursor>,
    /// Whether the source itself says this event is kbbridge's own doing (a Keybase message
    /// sent from the bridge's own device, a Discord message of its webhook, a Matrix event of
    /// one of its ghosts): never relayed back. Sources must not decide this by user name alone:
    /// the bridge account may be a person's own account.
    pub own: bool,
}

/// How a target keeps reactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReactionStyle {
    /// One reaction per reacting user (Matrix annotations sent by each user's ghost): each is
    /// added and taken back on its own.
    PerUser,
    /// One reaction per emoji for the whole bridge (a Keybase or Discord bot account): several
    /// source users reacting alike share it, so it is counted and taken back with the last.
    Shared,
}

/// A source of live events (new messages, edits, deletes, reactions).
#[async_trait]
pub trait LiveSource: Send + Sync {
    /// The platform the events come from.
    fn platform(&self) -> Platform;

    /// Pushes events into `out` until `shutdown` is cancelled or `out` is closed.
    ///
    /// # Errors
    /// When the source cannot go on (lost connection after retries, bad credentials).
    async fn run(
        &self,
        out: mpsc::Sender<Event>,
        shutdown: CancellationToken,
    ) -> Result<(), AdapterError>;
}

/// Whether a message is being replayed from history or relayed as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Replaying an export: silent (no notifications), original time shown.
    Backfill,
    /// Relaying a live message.
    Live,
}

/// One target message to send: part `part` of the copy of `msg`.
///
/// A source message may become several target messages (a long text split in parts, files
/// beyond a per-message limit, one reaction event per reacting user). The engine asks the sink
/// how many parts a message has ([`Sink::parts`]) and sends them one by one, each recorded
/// separately, so a crash in the middle resumes at the exact part.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// The source message.
    pub msg: &'a Message,
    /// Which part of its copy this is, from 0.
    pub part: u32,
    /// The message to reply to, already translated into the target chat.
    pub reply_to: Option<&'a MsgId>,
    /// The target IDs of the parts already sent, in order (`earlier.len() == part`).
    pub earlier: &'a [MsgId],
    /// Backfill or live relay.
    pub mode: Mode,
}

/// One text part of an edited message's copy: what [`Sink::edit_text`] rewrites and
/// [`Sink::send_text`] adds.
///
/// A copy's text comes first in its parts ([`Sink::text_parts`] of them; file parts follow).
/// When an edit's new text needs a different number of parts, the relay edits the text parts
/// the copy has, sends the missing ones after all the copy's other parts, and deletes the
/// surplus ones ([`Sink::delete`]); file parts are left alone.
#[derive(Clone, Copy, Debug)]
pub struct TextPart<'a> {
    /// The message as edited: its origin, the editor as sender, the new content. The relay
    /// does not keep the original message, so `sent_at` is the edit's time, `reply_to` is
    /// `None`, and `edited` is set.
    pub msg: &'a Message,
    /// Which part of the new text this is, from 0.
    pub index: u32,
    /// How many parts the new text takes ([`Sink::text_parts`] of `msg`).
    pub count: u32,
    /// The copy's part number it is (or will be) recorded under, for a source key or a
    /// transaction ID that finds it again after a crash.
    pub part: u32,
}

/// One message (or other event, such as a Matrix reaction) of a target chat, read back for
/// `kbbridge verify` ([`Sink::read_back`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// Its ID on the target.
    pub id: MsgId,
    /// Posted by kbbridge (its bot, ghosts or webhook).
    pub ours: bool,
    /// The copy part it says it is (origin and part number), where the target keeps that
    /// (Matrix events carry it); `None` elsewhere.
    pub source: Option<(crate::ids::MsgRef, u32)>,
    /// Deleted since (still listed, as Matrix lists redacted events).
    pub gone: bool,
    /// Edited since it was posted.
    pub edited: bool,
    /// Its text now, for naming it and for finding a copy posted twice where the target keeps
    /// no source.
    pub text: String,
}

/// A place messages can be written to.
#[async_trait]
pub trait Sink: Send + Sync {
    /// The platform written to.
    fn platform(&self) -> Platform;

    /// How many target messages `msg` becomes (at least 1). It must depend only on the message
    /// and the sink's configuration, never on time or state: a resumed run relies on getting the
    /// same answer.
    fn parts(&self, _msg: &Message) -> u32 {
        1
    }

    /// The attachments of `msg` this sink leaves out of its copy, each as the note the copy
    /// carries instead (`report.pdf (31.2 MiB) was not copied: larger than Discord's 10.0 MiB
    /// limit`; see [`crate::Attachment::not_copied`]). The engine records a copy with notes as
    /// *degraded* and reports it. Like [`Sink::parts`] it depends only on the message and the
    /// sink's configuration (and limits the sink has learned from the target); the engine asks
    /// after sending the message's parts.
    fn degraded(&self, _msg: &Message) -> Vec<String> {
        Vec::new()
    }

    /// Sends one part of a message into `to` and returns the new message's ID.
    ///
    /// # Errors
    /// As classified by [`AdapterError`].
    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError>;

    /// After a crash: finds out whether this part was already delivered (a send whose answer
    /// was lost), by reading the target back. `Ok(None)` means it was not and must be sent.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] when the sink cannot tell; the engine then resends and
    /// warns of a possible duplicate.
    async fn find_sent(
        &self,
        _to: &ChatId,
        _out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        Err(AdapterError::Unsupported("finding a sent message"))
    }

    /// After a crash: finds part `part` of the copy of `origin` by what the target keeps of
    /// its source alone, without the message (which may be gone: deleted at its source while
    /// kbbridge was down). Lets a delete reach a copy whose send was interrupted.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] when the target keeps no source with its messages.
    async fn find_copy(
        &self,
        _to: &ChatId,
        _origin: &MsgRef,
        _part: u32,
    ) -> Result<Option<MsgId>, AdapterError> {
        Err(AdapterError::Unsupported("finding a copy by its source"))
    }

    /// Everything in `chat`, oldest first, for `kbbridge verify`: what kbbridge posted and
    /// what others did, with what the target says of each.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it.
    async fn read_back(&self, _chat: &ChatId) -> Result<Vec<Posted>, AdapterError> {
        Err(AdapterError::Unsupported("reading a chat back"))
    }

    /// Replaces the content of a message this sink sent.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it.
    async fn edit(
        &self,
        _to: &ChatId,
        _target: &MsgId,
        _sender: &Sender,
        _content: &Content,
    ) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("edit"))
    }

    /// How many of the first parts of `msg`'s copy carry its text (at least 1; the files come
    /// after them): more than 1 for a sink that splits a long text into several messages. Like
    /// [`Sink::parts`] it depends only on the message and the sink's configuration.
    fn text_parts(&self, _msg: &Message) -> u32 {
        1
    }

    /// Replaces text part `text.index` of a copy with its share of the new text; `target` is
    /// that part's message. The default gives [`Sink::edit`] the whole text: right for a sink
    /// whose text is never split.
    ///
    /// # Errors
    /// As [`Sink::edit`].
    async fn edit_text(
        &self,
        to: &ChatId,
        target: &MsgId,
        text: TextPart<'_>,
    ) -> Result<(), AdapterError> {
        self.edit(to, target, &text.msg.sender, &text.msg.content)
            .await
    }

    /// Sends text part `text.index` of an edited copy as a new message, because the new text
    /// needs more parts than the copy had; returns its ID.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it (a sink whose text is never
    /// split is never asked).
    async fn send_text(&self, _to: &ChatId, _text: TextPart<'_>) -> Result<MsgId, AdapterError> {
        Err(AdapterError::Unsupported(
            "adding text parts to an edited message",
        ))
    }

    /// After a crash: finds out whether a text part [`Sink::send_text`] was sending arrived, as
    /// [`Sink::find_sent`] does for a message's parts. `Ok(None)` means it was not.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] when the sink cannot tell; the relay then sends it again
    /// and warns of a possible duplicate.
    async fn find_text(
        &self,
        _to: &ChatId,
        _text: TextPart<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        Err(AdapterError::Unsupported("finding a sent text part"))
    }

    /// Deletes a message this sink sent.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it.
    async fn delete(&self, _to: &ChatId, _target: &MsgId) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("delete"))
    }

    /// Adds `sender`'s reaction to a message; returns the reaction's own ID where the platform
    /// has one (Matrix annotations are events).
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it.
    async fn react(
        &self,
        _to: &ChatId,
        _target: &MsgId,
        _sender: &Sender,
        _emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        Err(AdapterError::Unsupported("reactions"))
    }

    /// Takes back the reaction `emoji` of `sender` on `target`; `reaction` is the ID
    /// [`Sink::react`] returned for it, where it returned one.
    ///
    /// # Errors
    /// [`AdapterError::Unsupported`] unless the sink implements it.
    async fn unreact(
        &self,
        _to: &ChatId,
        _target: &MsgId,
        _sender: &Sender,
        _emoji: &str,
        _reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("taking a reaction back"))
    }

    /// Whether this target keeps a reaction per user or one shared per emoji (which the relay
    /// then reference-counts).
    fn reaction_style(&self) -> ReactionStyle {
        ReactionStyle::Shared
    }

    /// Finds the target chat for the source chat `source`: with `requested` (a room or channel
    /// the mapping file names), checks it is usable and returns its canonical ID (a Matrix
    /// alias becomes a room ID); with `None` ("auto"), returns the chat created for `source` by
    /// an earlier run, or creates it (and its enclosing groups) and records it.
    ///
    /// # Errors
    /// `Fatal` when the requested chat is unusable or creation is refused;
    /// [`AdapterError::Unsupported`] by default.
    async fn resolve_chat(
        &self,
        _source: &ChatInfo,
        _requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        Err(AdapterError::Unsupported("creating or adopting chats"))
    }

    /// Startup check that credentials work and `to` is reachable.
    ///
    /// # Errors
    /// `Fatal` with what the operator should fix.
    async fn check(&self, to: &ChatId) -> Result<(), AdapterError>;
}
