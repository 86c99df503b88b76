//! [`MatrixSink`]: the writer into Matrix rooms (backfill, and the live relay's edits,
//! redactions and reactions in `amend.rs`).
//!
//! Each call does one attempt (the engine retries and paces): make sure the author's ghost
//! exists and is in the room, upload the part's file if it has one, and `PUT` the event with the
//! part's transaction ID, `?user_id=` the ghost and `?ts=` the original time. Notices (system
//! and headline lines) are sent by the bridge bot itself.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bridge_core::{
    AdapterError, Attachment, ChatId, ChatInfo, Content, MappingStore, Message, MessageKind, MsgId,
    MsgRef, Outgoing, Platform, ReactionStyle, Sender, Sink, model::human_size,
};
use chrono::{DateTime, Utc};
use ruma::{
    MilliSecondsSinceUnixEpoch, OwnedUserId, RoomId, UInt, UserId,
    api::client::{
        account::whoami, authenticated_media::get_media_config, message::send_message_event,
        state::get_state_event_for_key,
    },
    events::{MessageLikeEventType, StateEventType},
};
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::{
    client::MatrixClient,
    config::MatrixConfig,
    convert::{self, Media, Style},
    error::MatrixError,
    ghost::Ghosts,
    media,
    parts::{self, Part},
    reconcile,
    rooms::{parse_room, raw},
};

/// Writes messages into Matrix rooms as an appservice.
pub struct MatrixSink {
    pub(crate) client: MatrixClient,
    pub(crate) store: MappingStore,
    pub(crate) ghosts: Ghosts,
    pub(crate) config: MatrixConfig,
    /// Held while rooms and spaces are being found or created.
    pub(crate) creating: Mutex<()>,
    /// The largest file uploaded: the homeserver's `m.upload.size` once known, lowered when it
    /// answers `M_TOO_LARGE` for a smaller one.
    max_upload: AtomicU64,
    /// Notes for files found unusable only when sent (unreadable, refused as too large), by
    /// (source message, attachment index), so [`Sink::degraded`] reports them too.
    late_notes: bridge_core::notes::LateNotes,
}

impl std::fmt::Debug for MatrixSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixSink")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl MatrixSink {
    /// A sink for the homeserver `config` names, recording rooms and ghosts in `store`.
    ///
    /// # Errors
    /// [`MatrixError::Invalid`] when `homeserver`, `server_name` or `as_token` is missing or
    /// unusable.
    pub fn new(config: &MatrixConfig, store: MappingStore) -> Result<Self, MatrixError> {
        let client = MatrixClient::for_config(config)?;
        Ok(Self {
            client,
            store,
            ghosts: Ghosts::new(&config.ghost_prefix),
            config: config.clone(),
            creating: Mutex::new(()),
            max_upload: AtomicU64::new(u64::MAX),
            late_notes: bridge_core::notes::LateNotes::default(),
        })
    }

    /// The client this sink sends with.
    pub fn client(&self) -> &MatrixClient {
        &self.client
    }

    /// Who writes `msg`: the bot for notices (`None`), else the sender's ghost, in the room.
    async fn author(
        &self,
        room: &RoomId,
        msg: &Message,
    ) -> Result<Option<OwnedUserId>, MatrixError> {
        let author = match msg.kind {
            MessageKind::Notice => None,
            MessageKind::Normal => Some(
                self.ghosts
                    .ensure(&self.client, &self.store, msg.origin.platform, &msg.sender)
                    .await?,
            ),
        };
        self.ghosts
            .ensure_joined(&self.client, room, author.as_deref())
            .await?;
        Ok(author)
    }

    /// The Matrix user a `@name` in Keybase text stands for: the real account the mapping file
    /// gives, else the ghost.
    pub(crate) fn mention(&self, name: &str) -> Option<String> {
        if matches!(name, "everyone" | "here" | "channel") {
            return None;
        }
        match self.real_account(name) {
            Some(real) => Some(real.to_string()),
            None => self
                .ghosts
                .user_id(&self.client, name)
                .ok()
                .map(|u| u.to_string()),
        }
    }

    async fn send_part(&self, room: &RoomId, out: Outgoing<'_>) -> Result<MsgId, MatrixError> {
        let msg = out.msg;
        let all = parts::parts(msg);
        let part = all.get(out.part as usize).ok_or_else(|| {
            MatrixError::Request(format!("message {} has no part {}", msg.origin, out.part))
        })?;
        let msgtype = match msg.kind {
            MessageKind::Notice if self.config.notices => "m.notice",
            _ => "m.text",
        };
        let (event_type, content, author) = match part {
            Part::Body { attachment } => {
                let author = self.author(room, msg).await?;
                let (media, note) = match attachment {
                    Some(a) => match self.upload(msg, a, author.as_deref()).await? {
                        Ok(media) => (Some(media), None),
                        Err(note) => (None, Some(note)),
                    },
                    None => (None, None),
                };
                let mention = |name: &str| self.mention(name);
                let style = Style {
                    msgtype,
                    reply_to: out.reply_to.map(MsgId::as_str),
                    mention: &mention,
                };
                let mut content = convert::body(msg, out.part, media.as_ref(), style);
                if let Some(note) = note {
                    convert::add_note(&mut content, &note);
                }
                (MessageLikeEventType::RoomMessage, content, author)
            }
            Part::Attachment(a) => {
                let author = self.author(room, msg).await?;
                let content = match self.upload(msg, a, author.as_deref()).await? {
                    Ok(media) => convert::attachment(msg, out.part, &media),
                    Err(note) => convert::attachment_note(msg, out.part, msgtype, &note),
                };
                (MessageLikeEventType::RoomMessage, content, author)
            }
            Part::Reaction { emoji, user, .. } => {
                let target = out.earlier.first().ok_or_else(|| {
                    MatrixError::Request(format!("the reaction of {} has no message", msg.origin))
                })?;
                let ghost = self
                    .ghosts
                    .ensure(&self.client, &self.store, msg.origin.platform, user)
                    .await?;
                self.ghosts
                    .ensure_joined(&self.client, room, Some(&ghost))
                    .await?;
                let content = convert::reaction(msg, out.part, target.as_str(), emoji);
                (MessageLikeEventType::Reaction, content, Some(ghost))
            }
        };
        // A reaction keeps its own time; never before its message (a skewed clock).
        let at = match part {
            Part::Reaction { at: Some(t), .. } => (*t).max(msg.sent_at),
            _ => msg.sent_at,
        };
        self.put(
            room,
            event_type,
            content,
            (msg, out.part),
            at,
            author.as_deref(),
        )
        .await
    }

    /// Why `a` is left out of its copy, when that is known without reading it: the source
    /// could not supply it, or it is over the homeserver's upload limit.
    fn left_out(&self, a: &Attachment) -> Option<String> {
        if let Some(why) = a.unavailable_reason() {
            return Some(why.to_owned());
        }
        let limit = self.max_upload.load(Ordering::Relaxed);
        a.size.filter(|s| *s > limit).map(|_| too_large(limit))
    }

    /// Uploads `a` as `author`; `Err(note)` when it cannot be copied (the note that names it
    /// and says why, for the event to carry instead).
    async fn upload(
        &self,
        msg: &Message,
        a: &Attachment,
        author: Option<&UserId>,
    ) -> Result<Result<Media, String>, MatrixError> {
        if let Some(why) = self.left_out(a) {
            return Ok(Err(a.not_copied(&why)));
        }
        let late = match media::upload(&self.client, a, author).await {
            Ok(media) => return Ok(Ok(media)),
            Err(MatrixError::Attachment { what, source }) => {
                warn!(file = %what, error = %source, "attachment unreadable; sending a note in its place");
                a.not_copied(&format!("it could not be read ({source})"))
            }
            Err(e) if e.is("M_TOO_LARGE") || e.status() == Some(413) => {
                if let Some(size) = a.size {
                    self.max_upload
                        .fetch_min(size.saturating_sub(1), Ordering::Relaxed);
                }
                warn!(file = %a.name, size = ?a.size, "the homeserver refused the file as too large; sending a note");
                a.not_copied("larger than the homeserver accepts")
            }
            Err(e) => return Err(e),
        };
        // Only the send found this out: remember it for `Sink::degraded`.
        let index = msg
            .content
            .attachments
            .iter()
            .position(|x| std::ptr::eq(x, a));
        if let Some(i) = index {
            self.late_notes.record(msg, i, late.clone());
        }
        Ok(Err(late))
    }

    /// Learns the homeserver's upload limit (`m.upload.size`), so files over it become notes
    /// without being sent. A homeserver that does not say leaves the limit to be learned from
    /// an `M_TOO_LARGE`.
    async fn learn_upload_limit(&self) {
        match self
            .client
            .send(get_media_config::v1::Request::new(), None)
            .await
        {
            Ok(config) => {
                let limit = u64::from(config.upload_size);
                self.max_upload.fetch_min(limit, Ordering::Relaxed);
                debug!(limit, "homeserver upload limit");
            }
            Err(e) => debug!(error = %e, "the homeserver does not give its upload limit"),
        }
    }

    /// `PUT /rooms/{room}/send/{type}/{txn}?user_id=…&ts=…`.
    async fn put(
        &self,
        room: &RoomId,
        event_type: MessageLikeEventType,
        content: Value,
        (msg, part): (&Message, u32),
        at: DateTime<Utc>,
        author: Option<&UserId>,
    ) -> Result<MsgId, MatrixError> {
        let txn = parts::txn_id(msg, part);
        let mut req = send_message_event::v3::Request::new_raw(
            room.to_owned(),
            txn.into(),
            event_type,
            raw(content)?,
        );
        req.timestamp = Some(timestamp(at));
        let event = self.client.send(req, author).await?.event_id;
        debug!(msg = %msg.origin, part, room = %room, event = %event, "sent");
        Ok(MsgId::new(event.as_str()))
    }

    async fn check_room(&self, to: &ChatId) -> Result<(), MatrixError> {
        self.client.send(whoami::v3::Request::new(), None).await?;
        self.learn_upload_limit().await;
        let room = parse_room(to.as_str())?;
        let req = get_state_event_for_key::v3::Request::new(
            room.clone(),
            StateEventType::RoomCreate,
            String::new(),
        );
        match self.client.send(req, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is("M_FORBIDDEN") => Err(MatrixError::Invalid(format!(
                "the bridge bot {} is not in {room}: invite it, or let kbbridge create the room \
                 (matrix = \"auto\")",
                self.client.bot()
            ))),
            Err(e) => Err(e),
        }
    }
}

/// Why a file over the upload limit is left out.
fn too_large(limit: u64) -> String {
    format!(
        "larger than the homeserver's {} upload limit",
        human_size(limit)
    )
}

/// An original time, for `?ts=`.
fn timestamp(at: DateTime<Utc>) -> MilliSecondsSinceUnixEpoch {
    let ms = at.timestamp_millis().max(0);
    MilliSecondsSinceUnixEpoch(UInt::try_from(ms).unwrap_or(UInt::MAX))
}

#[async_trait]
impl Sink for MatrixSink {
    fn platform(&self) -> Platform {
        Platform::Matrix
    }

    /// Each reacting user's ghost sends its own annotation.
    fn reaction_style(&self) -> ReactionStyle {
        ReactionStyle::PerUser
    }

    fn parts(&self, msg: &Message) -> u32 {
        u32::try_from(parts::parts(msg).len()).unwrap_or(u32::MAX)
    }

    fn degraded(&self, msg: &Message) -> Vec<String> {
        self.late_notes.degraded(msg, |a| self.left_out(a))
    }

    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(self.send_part(&room, out).await?)
    }

    /// Looks for the part's source key among the room's latest events.
    async fn find_sent(
        &self,
        to: &ChatId,
        out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(reconcile::find(&self.client, &room, &out.msg.origin, out.part).await?)
    }

    /// By the source key every copy part carries (`parts.rs`), among the room's latest events.
    async fn find_copy(
        &self,
        to: &ChatId,
        origin: &MsgRef,
        part: u32,
    ) -> Result<Option<MsgId>, AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(reconcile::find(&self.client, &room, origin, part).await?)
    }

    /// The room's messages and reactions (`read_back.rs`); kbbridge's are the bot's and its
    /// ghosts'.
    async fn read_back(&self, chat: &ChatId) -> Result<Vec<bridge_core::Posted>, AdapterError> {
        let room = parse_room(chat.as_str())?;
        let bot = self.client.bot().as_str().to_owned();
        let prefix = format!("@{}", self.config.ghost_prefix);
        let server = format!(":{}", self.client.server_name());
        let ours = |sender: &str| {
            sender == bot || (sender.starts_with(&prefix) && sender.ends_with(&server))
        };
        Ok(crate::read_back::read_back(&self.client, &room, ours).await?)
    }

    /// An `m.replace` of `target`'s text, sent by the ghost (or the bot) that sent `target`;
    /// files are not changed.
    async fn edit(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(self.edit_event(&room, target, content).await?)
    }

    /// Redacts `target`, as the ghost (or the bot) that sent it.
    async fn delete(&self, to: &ChatId, target: &MsgId) -> Result<(), AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(self.redact(&room, target).await?)
    }

    /// An annotation by `sender`'s ghost; returns its event ID (always `Some`), which
    /// [`Sink::delete`] redacts when the reaction is taken back.
    async fn react(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(Some(self.react_live(&room, target, sender, emoji).await?))
    }

    /// Redacts the annotation `reaction` (the ID [`Sink::react`] returned), as the ghost that
    /// made it; without it, the annotation `emoji` of `sender`'s ghost on `target` is looked
    /// up. A reaction already gone is done.
    async fn unreact(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
        reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        let room = parse_room(to.as_str())?;
        Ok(self
            .unreact_live(&room, target, sender, emoji, reaction)
            .await?)
    }

    async fn resolve_chat(
        &self,
        source: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        let room = self.resolve_room(source, requested).await?;
        Ok(ChatId::new(room.as_str()))
    }

    async fn check(&self, to: &ChatId) -> Result<(), AdapterError> {
        Ok(self.check_room(to).await?)
    }
}
