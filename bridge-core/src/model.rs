//! The one message model every adapter converts to and from.

use std::{fmt, path::PathBuf, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChatRef, MsgId, MsgRef, UserId};

mod file_name;
mod wire;

pub use file_name::safe_file_name;

/// Something that happened in a chat, as a live source reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    /// A new message.
    Message(Message),
    /// A message's content was replaced.
    Edit {
        /// The edited message, on the platform where the edit happened.
        target: MsgRef,
        /// Who edited it.
        sender: Sender,
        /// The new content.
        content: Content,
        /// When the edit was made.
        at: DateTime<Utc>,
    },
    /// A message was deleted.
    Delete {
        /// The deleted message.
        target: MsgRef,
        /// Who deleted it, where the platform says.
        sender: Option<Sender>,
    },
    /// A reaction was added to a message.
    ReactionAdded {
        /// The message reacted to.
        target: MsgRef,
        /// Who reacted.
        sender: Sender,
        /// The emoji, as a Unicode string or a `:shortcode:` the platform did not resolve.
        emoji: String,
        /// The reaction's own ID where the platform gives it one (a Keybase reaction message,
        /// a Matrix annotation event), so that taking it back (often a delete or redaction of
        /// that ID) finds exactly the copy it made.
        id: Option<MsgId>,
    },
    /// A reaction was taken back.
    ReactionRemoved {
        /// The message the reaction was on.
        target: MsgRef,
        /// Who had reacted.
        sender: Sender,
        /// The emoji that was removed.
        emoji: String,
        /// The ID of the reaction taken back, where the platform gives one.
        id: Option<MsgId>,
    },
}

impl Event {
    /// The message this event is about: the new message itself, or the target.
    pub fn subject(&self) -> &MsgRef {
        match self {
            Event::Message(m) => &m.origin,
            Event::Edit { target, .. }
            | Event::Delete { target, .. }
            | Event::ReactionAdded { target, .. }
            | Event::ReactionRemoved { target, .. } => target,
        }
    }
}

/// One message, with everything a target needs to reproduce it faithfully.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    /// Where the message was first posted.
    pub origin: MsgRef,
    /// Who posted it.
    pub sender: Sender,
    /// When it was originally posted (Matrix `ts`, Discord's `<t:…>` markup use it).
    pub sent_at: DateTime<Utc>,
    /// Whether this is an ordinary message or a notice (system or headline line).
    pub kind: MessageKind,
    /// Text and attachments.
    pub content: Content,
    /// The message this one replies to, in the same chat as `origin`; the engines translate it.
    pub reply_to: Option<MsgId>,
    /// Reactions the message had when it was exported (backfill only; live reactions are events).
    pub reactions: Vec<Reaction>,
    /// Whether the message had been edited before it was exported.
    pub edited: bool,
}

/// Whether a message is a person's post or an automatic notice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// A message someone wrote.
    #[default]
    Normal,
    /// A system line (joins, renames, headline changes) the platform generated.
    Notice,
}

/// A message's author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// The author's ID on the origin platform.
    pub id: UserId,
    /// The name to show for them.
    pub name: String,
    /// An avatar URL, where the origin platform gives one.
    pub avatar: Option<String>,
}

/// What a message says and carries.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Content {
    /// The text, in its source markup; empty for a bare attachment.
    pub text: String,
    /// The markup language `text` is written in.
    pub syntax: Syntax,
    /// Files attached to the message.
    pub attachments: Vec<Attachment>,
}

impl Content {
    /// Plain text with no markup and no attachments.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            syntax: Syntax::Plain,
            attachments: Vec::new(),
        }
    }
}

/// The markup a message's text is written in; sinks convert from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Syntax {
    /// No markup: every character is literal.
    #[default]
    Plain,
    /// Keybase's markdown dialect (`*bold*`, `_italic_`, `~strike~`, code, quotes).
    Keybase,
    /// Discord's markdown dialect.
    Discord,
    /// Matrix: `text` is the plain `body`, and this is the `formatted_body` HTML.
    MatrixHtml(String),
}

/// A reaction a message carried, with everyone who made it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji: Unicode where known, otherwise the origin's key as found (see `exact`).
    pub emoji: String,
    /// False when the origin lost the real emoji (old keybase-export files mangle the keys).
    pub exact: bool,
    /// Who reacted, in the order the origin lists them.
    pub users: Vec<Sender>,
    /// When each of `users` reacted, in the same order, where the origin says (Keybase's
    /// `ctime`); shorter than `users`, or `None`, where it does not.
    pub times: Vec<Option<DateTime<Utc>>>,
}

impl Reaction {
    /// When `users[i]` reacted, if the origin says.
    pub fn time_of(&self, i: usize) -> Option<DateTime<Utc>> {
        self.times.get(i).copied().flatten()
    }
}

/// A file attached to a message.
///
/// A source that knows of an attachment but cannot supply its bytes (a missing file, a name
/// that would leave the export folder) still hands it over, built with
/// [`Attachment::unavailable`]: sinks then leave a note in the copy instead of the file, so
/// nothing disappears without a word.
///
/// Serialised (for the hand-off between instances, `crate::handoff`) with its bytes when they
/// are held in memory ([`Blob::bytes`]), or with why they are unavailable; any other blob must
/// first be read with [`Attachment::into_memory`].
#[derive(Clone, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name to show and upload under (already made safe by the source adapter with
    /// [`safe_file_name`]; for an unavailable attachment, only ever shown).
    pub name: String,
    /// MIME type, where known.
    pub mime: Option<String>,
    /// Size in bytes, where known without reading the file.
    pub size: Option<u64>,
    /// Image width and height in pixels, where known.
    pub dimensions: Option<(u32, u32)>,
    /// Where the bytes come from.
    #[serde(with = "crate::model::wire")]
    pub data: Arc<dyn Blob>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("mime", &self.mime)
            .field("size", &self.size)
            .field("data", &self.data.describe())
            .finish()
    }
}

impl Attachment {
    /// An attachment the source knows of but cannot supply, and why (in words that finish
    /// "was not copied: …", e.g. "it is missing from the export folder").
    pub fn unavailable(name: impl Into<String>, size: Option<u64>, why: impl Into<String>) -> Self {
        let name: String = name.into();
        Self {
            // Shown in notes only; control characters would reach terminals and clients raw.
            name: name
                .chars()
                .map(|c| if c.is_control() { '_' } else { c })
                .collect(),
            mime: None,
            size,
            dimensions: None,
            data: Arc::new(Unavailable(why.into())),
        }
    }

    /// This attachment with its bytes read into memory (or, when they cannot be read, marked
    /// unavailable with why), so that it can be serialised and read in another process.
    pub async fn into_memory(self) -> Self {
        if self.data.unavailable().is_some() || self.data.bytes().is_some() {
            return self;
        }
        let data: Arc<dyn Blob> = match self.data.read().await {
            Ok(bytes) => Arc::new(MemoryBlob(bytes)),
            Err(e) => Arc::new(Unavailable(format!("it could not be read ({e})"))),
        };
        Self { data, ..self }
    }

    /// Why the source could not supply this attachment's bytes, if it could not.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.data.unavailable()
    }

    /// The note a copy carries in place of this file: `report.pdf (31.2 MiB) was not copied:
    /// <why>` (the size when known).
    pub fn not_copied(&self, why: &str) -> String {
        let size = self
            .size
            .map(|s| format!(" ({})", human_size(s)))
            .unwrap_or_default();
        format!("{}{size} was not copied: {why}", self.name)
    }
}

/// A size for people: `512 bytes`, `3.0 KiB`, `31.2 MiB`, `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB * KIB {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    } else if b >= KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A way to read an attachment's bytes, read only when a sink needs them.
#[async_trait]
pub trait Blob: Send + Sync {
    /// Reads the whole file.
    ///
    /// # Errors
    /// When the bytes cannot be had (a missing export file, a failed download).
    async fn read(&self) -> std::io::Result<Vec<u8>>;

    /// Where the bytes are, for logs and reports.
    fn describe(&self) -> String;

    /// Why the bytes cannot be had, when the source already knows they cannot (sinks then
    /// write a note instead of trying). `None`: try [`Blob::read`].
    fn unavailable(&self) -> Option<&str> {
        None
    }

    /// The bytes, when they are held in memory (and can be serialised as they are).
    fn bytes(&self) -> Option<&[u8]> {
        None
    }
}

/// The bytes of an attachment the source could not supply, with why (see
/// [`Attachment::unavailable`]).
pub struct Unavailable(pub String);

#[async_trait]
impl Blob for Unavailable {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            self.0.clone(),
        ))
    }

    fn describe(&self) -> String {
        format!("not available: {}", self.0)
    }

    fn unavailable(&self) -> Option<&str> {
        Some(&self.0)
    }
}

/// Bytes held in memory.
pub struct MemoryBlob(pub Vec<u8>);

#[async_trait]
impl Blob for MemoryBlob {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        Ok(self.0.clone())
    }

    fn describe(&self) -> String {
        format!("{} bytes in memory", self.0.len())
    }

    fn bytes(&self) -> Option<&[u8]> {
        Some(&self.0)
    }
}

/// A file on disk, at a path the source adapter has already checked stays inside its folder.
pub struct FileBlob(pub PathBuf);

#[async_trait]
impl Blob for FileBlob {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(&self.0).await
    }

    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

/// What a target needs to know to create (or find) the copy of a source chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatInfo {
    /// The source chat.
    pub chat: ChatRef,
    /// Its short name: a channel name (`general`) or a conversation title (`alice, bob`).
    pub name: String,
    /// Its topic or headline, where it has one.
    pub topic: Option<String>,
    /// The groups that contain it, outermost first: `["acme", "ops"]` for a channel of the
    /// Keybase subteam `acme.ops` (team → Matrix space / Discord category). Empty for direct
    /// conversations.
    pub path: Vec<String>,
    /// A group channel, or a direct conversation with its members.
    pub kind: ChatKind,
}

/// Whether a chat is a channel of a group or a direct conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatKind {
    /// A channel of a team (or of the top of `path`).
    Channel,
    /// A direct or small-group conversation between these people.
    Direct {
        /// Everyone in the conversation.
        members: Vec<UserId>,
    },
}
