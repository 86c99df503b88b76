//! [`KeybaseSink`]: relayed messages written into Keybase through the local `keybase chat
//! api` (keybase.md §1.6, relay.md §3.2), as the bridge account, the author shown by
//! `[keybase] sender_format`.
//!
//! - A message is a text part (when it has text, is a reply, or has nothing else) then one
//!   part per file (`attach`, from a temporary file named as the file, its caption the author
//!   line and the file name); a file the source could not supply becomes a note. A reply is
//!   `send` with `reply_to` (on the text part: `attach` takes none, so a reply of files alone
//!   gets a text part naming them).
//! - `edit` rewrites the copy's body with the same author line; `delete` deletes the copy (the
//!   service deletes its edits and reactions with it); a delete of a message already gone is
//!   done.
//! - `react` makes sure the bridge account has the reaction and returns the reaction message's
//!   id. It never sends a reaction the account already has: Keybase would take it **off**
//!   (a repeated reaction toggles, `go/chat/sender.go processReactionMessage`), so the
//!   account's reaction is shared by everyone it stands for, and the relay counts them
//!   (relay.md §3.1). [`KeybaseSink::unreact`] deletes the reaction message.
//! - Writes are never replayed by the `chat api` client ([`ApiProcess::call_once`]): when the
//!   process dies during one, the send is reported transient, and [`Sink::find_sent`] reads the
//!   conversation back to see whether it arrived.
//! - Pace: Keybase does not publish its limits; the engine's pacer paces the sink
//!   (`[backfill.rate.keybase]`, 2 messages a second by default).

mod channels;
mod emoji;
mod format;
mod interface;

use std::sync::Arc;

use bridge_core::{
    AdapterError, Attachment, ChatId, Content, Message, MsgId, Outgoing, Platform, Sink,
    model::{ChatInfo, Sender},
};
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};
use tracing::{debug, warn};

pub use self::{
    channels::channel_of,
    emoji::keybase_reaction,
    format::{SenderFormat, defuse_mentions, platform_name},
};
use crate::{
    cli::{
        ApiProcess, ClientError, KeybaseCli,
        requests::{
            AttachOptions, ChatChannel, DeleteOptions, GetOptions, MessageBody, PageRequest,
            ReadChannelOptions, SendOptions, SendRes, TargetOptions,
        },
    },
    config::KeybaseConfig,
    live::Identity,
};

/// How many recent messages [`Sink::find_sent`] reads back.
const FIND_SENT_WINDOW: u32 = 50;

/// Writes into Keybase as the bridge account.
pub struct KeybaseSink {
    cli: KeybaseCli,
    api: Arc<Mutex<ApiProcess>>,
    format: SenderFormat,
    me: OnceCell<Identity>,
    /// The channels of chats renamed since their link was written, by the name links use.
    renamed: std::sync::RwLock<std::collections::HashMap<ChatId, ChatChannel>>,
}

impl std::fmt::Debug for KeybaseSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeybaseSink")
            .field("binary", &self.cli.binary)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// What one part of a message is.
enum Part<'a> {
    Text,
    File(&'a Attachment),
}

impl KeybaseSink {
    /// The sink the `[keybase]` section describes.
    ///
    /// # Errors
    /// A `sender_format` that does not parse (validation reports it first, with its key).
    pub fn new(config: &KeybaseConfig) -> Result<Self, String> {
        Self::with_cli(KeybaseCli::from_config(config), &config.sender_format)
    }

    /// A sink running `cli`'s `keybase`, showing authors with `sender_format`.
    ///
    /// # Errors
    /// A `sender_format` that does not parse.
    pub fn with_cli(cli: KeybaseCli, sender_format: &str) -> Result<Self, String> {
        let format = SenderFormat::parse(sender_format)
            .map_err(|why| format!("[keybase] sender_format: {why}"))?;
        Ok(Self {
            api: Arc::new(Mutex::new(cli.chat_api())),
            cli,
            format,
            me: OnceCell::new(),
            renamed: std::sync::RwLock::default(),
        })
    }

    /// The sink's `chat api` process, to share with the live side (catch-up, downloads), so
    /// reads and writes of one account go through one process in order.
    pub fn api(&self) -> Arc<Mutex<ApiProcess>> {
        Arc::clone(&self.api)
    }

    /// Rewrites a copy's body, its author line naming `platform`.
    ///
    /// # Errors
    /// As classified by [`AdapterError`].
    pub async fn edit_from(
        &self,
        to: &ChatId,
        target: &MsgId,
        platform: Platform,
        sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        let options = TargetOptions {
            channel: self.channel(to),
            message_id: msg_number(target)?,
            message: MessageBody {
                body: self.format.render(&sender.name, platform, &content.text),
            },
        };
        self.write("edit", &options).await.map(|_| ())
    }

    async fn identity(&self) -> Result<&Identity, AdapterError> {
        self.me
            .get_or_try_init(|| Identity::of(&self.cli))
            .await
            .map_err(classify)
    }

    /// A write, never replayed; the new message's id.
    async fn write<T: serde::Serialize>(
        &self,
        method: &str,
        options: &T,
    ) -> Result<Option<u64>, AdapterError> {
        let raw = self
            .api
            .lock()
            .await
            .call_once(method, options)
            .await
            .map_err(classify)?;
        let res: SendRes = serde_json::from_str(raw.get()).map_err(|e| {
            AdapterError::rejected(format!("keybase {method} replied {}: {e}", raw.get()))
        })?;
        Ok(res.id)
    }

    /// The messages of `to` with the given ids (visible ones only), as JSON.
    async fn get(&self, to: &ChatId, ids: Vec<u64>) -> Result<Vec<Value>, AdapterError> {
        let options = GetOptions {
            channel: self.channel(to),
            message_ids: ids,
            peek: true,
        };
        let raw = self
            .api
            .lock()
            .await
            .call("get", &options)
            .await
            .map_err(classify)?;
        Ok(messages_of(raw.get()))
    }

    fn part<'m>(&self, msg: &'m Message, part: u32) -> Option<Part<'m>> {
        let text = has_text_part(msg);
        let index = part as usize;
        match (text, index) {
            (true, 0) => Some(Part::Text),
            (true, i) => msg.content.attachments.get(i - 1).map(Part::File),
            (false, i) => msg.content.attachments.get(i).map(Part::File),
        }
    }

    /// The body of a text part. A reply of files alone names its files there: the part
    /// exists to carry the reply (see [`has_text_part`]).
    fn text_body(&self, msg: &Message) -> String {
        let text = if msg.content.text.trim().is_empty() && !msg.content.attachments.is_empty() {
            let names: Vec<&str> = msg
                .content
                .attachments
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            format!("📎 {}", names.join(", "))
        } else {
            msg.content.text.clone()
        };
        self.format
            .render(&msg.sender.name, msg.origin.platform, &text)
    }

    fn note_body(&self, msg: &Message, file: &Attachment, why: &str) -> String {
        let note = format!("📎 {}", file.not_copied(why));
        self.format
            .render(&msg.sender.name, msg.origin.platform, &note)
    }

    fn file_title(&self, msg: &Message, file: &Attachment) -> String {
        self.format
            .render(&msg.sender.name, msg.origin.platform, &file.name)
    }

    async fn send_file(
        &self,
        to: &ChatId,
        msg: &Message,
        file: &Attachment,
    ) -> Result<u64, AdapterError> {
        if let Some(why) = file.unavailable_reason() {
            let options = SendOptions {
                channel: self.channel(to),
                message: MessageBody {
                    body: self.note_body(msg, file, why),
                },
                reply_to: None,
            };
            return self.write("send", &options).await?.ok_or_else(no_id);
        }
        let bytes = file.data.read().await.map_err(|e| {
            AdapterError::transient(format!(
                "cannot read the file {} to relay ({}): {e}",
                file.name,
                file.data.describe()
            ))
        })?;
        let dir = tempfile::Builder::new()
            .prefix("kbbridge-upload-")
            .tempdir()
            .map_err(|e| AdapterError::transient(format!("cannot make a temporary folder: {e}")))?;
        let path = dir.path().join(upload_name(&file.name));
        tokio::fs::write(&path, bytes).await.map_err(|e| {
            AdapterError::transient(format!("cannot write {}: {e}", path.display()))
        })?;
        let options = AttachOptions {
            channel: self.channel(to),
            filename: path.to_string_lossy().into_owned(),
            title: self.file_title(msg, file),
        };
        // The folder (and the file) go when `dir` drops, after Keybase has read it.
        self.write("attach", &options).await?.ok_or_else(no_id)
    }
}

/// What [`Sink::find_sent`] looks for.
enum Wanted {
    Text(String),
    File { name: String, title: String },
}

impl Wanted {
    fn matches(&self, content: &Value) -> bool {
        match self {
            Wanted::Text(body) => {
                content["type"] == "text" && content["text"]["body"].as_str() == Some(body)
            }
            Wanted::File { name, title } => {
                let object = &content["attachment"]["object"];
                content["type"] == "attachment"
                    && object["filename"].as_str() == Some(name)
                    && object["title"].as_str() == Some(title)
            }
        }
    }
}

/// Whether a message has a text part: text, nothing else to show, or a reply (`attach` takes
/// no `reply_to`, so a reply of files alone would lose its link without one).
fn has_text_part(msg: &Message) -> bool {
    !msg.content.text.trim().is_empty()
        || msg.content.attachments.is_empty()
        || msg.reply_to.is_some()
}

/// A Keybase message id from a `MsgId` of a Keybase chat.
fn msg_number(id: &MsgId) -> Result<u64, AdapterError> {
    id.as_str()
        .parse()
        .map_err(|_| AdapterError::rejected(format!("{id} is not a Keybase message id")))
}

/// The file name an upload is given: the attachment's name, without folders or control
/// characters (Keybase shows the file's own name).
fn upload_name(name: &str) -> String {
    let safe = bridge_core::safe_file_name(name);
    if safe.is_empty() {
        "file".to_owned()
    } else {
        safe
    }
}

fn no_id() -> AdapterError {
    AdapterError::rejected("keybase answered without the new message's id")
}

/// The `msg` of each wrapper of a `read` or `get` result.
fn messages_of(raw: &str) -> Vec<Value> {
    let thread: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    thread["messages"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|w| w["msg"].is_object())
                .map(|w| w["msg"].clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The one place the sink classifies client errors: the service refusing a request rejects
/// that item; a process that died or hung may work again; a client that cannot be run at all
/// stops the link.
fn classify(e: ClientError) -> AdapterError {
    match e {
        ClientError::Api { .. } | ClientError::BadReply { .. } => {
            AdapterError::rejected(e.to_string())
        }
        ClientError::Died { .. }
        | ClientError::Ended { .. }
        | ClientError::Timeout { .. }
        | ClientError::Io { .. } => {
            warn!(error = %e, "keybase client failed; retrying");
            AdapterError::Transient(Box::new(e))
        }
        ClientError::Spawn { .. } | ClientError::Command { .. } => AdapterError::Fatal(Box::new(e)),
    }
}
