//! From a read export line to bridge-core's [`Message`].
//!
//! * Sender: `Sender { id: UserId(username), name: username, avatar: None }`.
//! * Text: Keybase markdown ([`Syntax::Keybase`]), already edited; system notices are
//!   [`Syntax::Plain`] (generated text, where `carol_x` must not turn italic).
//! * `reply_to` and the message id: the Keybase id in decimal, within the same chat.
//! * Attachments: the downloaded file as a [`FileBlob`], when found inside the folder; else an
//!   [`Attachment::unavailable`] saying why (missing, unreadable, an unsafe name), so the copy
//!   carries a note in its place.

use std::{path::PathBuf, sync::Arc};

use bridge_core::{
    Attachment, ChatId, Content, Message, MessageKind, MsgId, MsgRef, Platform, Sender, Syntax,
    UserId, model::FileBlob, safe_file_name,
};

use crate::export::{
    RejectReason,
    attachments::{AttachmentDir, Located, mime_for, plain_name},
    line::{NoticeKind, Record},
    node::Node,
    reactions::{self, UserNames},
};

/// What a line's attachment comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AttachmentOutcome {
    /// The line has none.
    None,
    /// The file is there.
    Found {
        /// The export's file name (made safe when it was not).
        name: String,
        /// Canonical path inside the attachments folder.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
    },
    /// The file is not there (or the export predates attachment download: no file name).
    Missing {
        /// The export's file name, if it has one.
        filename: Option<String>,
        /// Where the file was looked for.
        path: Option<PathBuf>,
    },
    /// The file is there but cannot be opened.
    Unreadable {
        /// The export's file name.
        name: String,
        /// Where it is.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
        /// Why it cannot be opened.
        error: String,
    },
    /// The attachment is refused; the message replays with a note in its place.
    Rejected(RejectReason, String),
}

/// Finds `rec`'s attachment in `dir`, safely.
pub(crate) fn attachment_of(rec: &Record, dir: &AttachmentDir) -> AttachmentOutcome {
    let Some(node) = &rec.attachment else {
        return AttachmentOutcome::None;
    };
    if node.as_object().is_none() {
        let detail = format!("attachment is a {}, expected an object", node.kind());
        return AttachmentOutcome::Rejected(RejectReason::BadAttachment, detail);
    }
    let filename = match node.get("filename") {
        Some(Node::Str(f)) => f,
        Some(other) => {
            let detail = format!("attachment filename is a {}", other.kind());
            return AttachmentOutcome::Rejected(RejectReason::BadAttachment, detail);
        }
        None => {
            return AttachmentOutcome::Missing {
                filename: None,
                path: None,
            };
        }
    };
    match dir.find(rec, filename) {
        Located::Found { path, size } => AttachmentOutcome::Found {
            name: if plain_name(filename).is_ok() {
                filename.clone()
            } else {
                safe_file_name(filename)
            },
            path,
            size,
        },
        Located::Unreadable { path, size, error } => AttachmentOutcome::Unreadable {
            name: filename.clone(),
            path,
            size,
            error,
        },
        Located::Missing(path) => AttachmentOutcome::Missing {
            filename: Some(filename.clone()),
            path: Some(path),
        },
        Located::Unsafe(reason, detail) => AttachmentOutcome::Rejected(reason, detail),
    }
}

/// What [`to_message`] needs besides the line.
pub(crate) struct Context<'a> {
    /// The chat the message is replayed from.
    pub chat: &'a ChatId,
    /// The attachments folder.
    pub dir: &'a AttachmentDir,
    /// Senders seen in the export, to recover reacting users' names.
    pub names: &'a UserNames,
}

/// Builds the message a line stands for.
pub(crate) fn to_message(rec: Record, ctx: &Context<'_>) -> Message {
    let attachments = match attachment_of(&rec, ctx.dir) {
        AttachmentOutcome::Found { name, path, size } => vec![Attachment {
            mime: mime_for(&name).map(str::to_owned),
            name,
            size: Some(size),
            dimensions: None,
            data: Arc::new(FileBlob(path)),
        }],
        // Nothing is dropped silently: the sinks leave a note naming the file and why.
        AttachmentOutcome::Missing { filename, .. } => {
            let (name, why) = match filename {
                Some(f) => (f, "it is missing from the export's attachments folder"),
                None => (
                    "attachment".to_owned(),
                    "the export has no copy of it (exported without attachments)",
                ),
            };
            vec![Attachment::unavailable(name, None, why)]
        }
        AttachmentOutcome::Unreadable {
            name, size, error, ..
        } => {
            let why = format!("it cannot be read from the export's attachments folder ({error})");
            vec![Attachment::unavailable(name, Some(size), why)]
        }
        AttachmentOutcome::Rejected(reason, _) => {
            let name = rec
                .attachment
                .as_ref()
                .and_then(|a| a.get("filename"))
                .and_then(Node::as_str)
                .unwrap_or("attachment")
                .to_owned();
            let why = match reason {
                RejectReason::AttachmentOutsideDir => {
                    "it links to a file outside the export folder, which is never read"
                }
                RejectReason::BadAttachment => "the export's record of it is malformed",
                _ => {
                    "its file name could lead outside the export folder, and no file of its safe name is in the export"
                }
            };
            vec![Attachment::unavailable(name, None, why)]
        }
        AttachmentOutcome::None => Vec::new(),
    };
    let reactions = rec
        .reactions
        .as_ref()
        .map(|r| reactions::convert(r, ctx.names, rec.exact_keys).reactions)
        .unwrap_or_default();
    let (kind, syntax) = match rec.notice {
        None => (MessageKind::Normal, Syntax::Keybase),
        Some(NoticeKind::Headline) => (MessageKind::Notice, Syntax::Keybase),
        Some(NoticeKind::System) => (MessageKind::Notice, Syntax::Plain),
    };
    Message {
        origin: MsgRef {
            platform: Platform::Keybase,
            chat: ctx.chat.clone(),
            msg: MsgId::new(rec.id.to_string()),
        },
        sender: Sender {
            id: UserId::new(rec.sender.clone()),
            name: rec.sender,
            avatar: None,
        },
        sent_at: rec.sent_at,
        kind,
        content: Content {
            text: rec.text,
            syntax,
            attachments,
        },
        reply_to: rec.reply_to.map(|r| MsgId::new(r.to_string())),
        reactions,
        edited: rec.edited,
    }
}
