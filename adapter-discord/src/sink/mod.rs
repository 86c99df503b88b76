//! [`DiscordSink`]: copies messages into Discord channels through one webhook per channel,
//! each with its Keybase author's name and avatar. A backfill is silent (suppress-notifications
//! flag, `allowed_mentions` parsing nothing); a live copy notifies as a normal message does, but
//! its `allowed_mentions` lets only user mentions through, never `@everyone`, `@here` or a role.
//! Edits, deletes and text parts of live edits are in `amend.rs`; reactions in `reactions.rs`.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use bridge_core::{Attachment, MappingStore, Message, Mode, MsgId, Outgoing, model::human_size};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use serenity::{
    builder::CreateAttachment,
    http::{LightMethod, Multipart, MultipartUpload, Request, Route},
    model::{
        channel::Message as DiscordMessage,
        id::{ChannelId, MessageId, WebhookId},
    },
};
use tracing::warn;

use crate::{
    client::{Rest, Transport},
    config::{DiscordConfig, ReactionStyle, TimeFormat},
    convert::{self, PartPlan, SendTime, Style},
    error::DiscordError,
    limiter::{Limiter, LimiterOptions},
    names::webhook_username,
    webhooks::{Hook, Webhooks},
};

mod interface;

/// SUPPRESS_NOTIFICATIONS: a backfilled copy notifies nobody.
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
/// Copies remembered for reply quotes before the memory is cleared.
const QUOTE_CACHE: usize = 10_000;

/// Settings of the sink that are not in `[discord]`.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// kbbridge's rate limiter.
    pub limiter: LimiterOptions,
    /// The largest file uploaded (Discord's default: 10 MiB); lowered when Discord answers
    /// 40005 for a smaller one.
    pub max_file_size: u64,
    /// Pages of 100 recent messages read to find an interrupted send.
    pub reconcile_pages: u32,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            limiter: LimiterOptions::default(),
            max_file_size: 10 * 1024 * 1024,
            reconcile_pages: 5,
        }
    }
}

/// The Discord sink.
pub struct DiscordSink {
    pub(crate) rest: Rest,
    pub(crate) store: MappingStore,
    pub(crate) guild: u64,
    pub(crate) style: Style,
    avatar_url: Option<String>,
    pub(crate) hooks: Webhooks,
    /// Per channel: the UTC day of the last message copied there (`None`: none yet).
    days: Mutex<HashMap<u64, Option<NaiveDate>>>,
    /// Copies sent this run (message ID → author, content), for reply quotes.
    quotes: Mutex<HashMap<u64, (String, String)>>,
    max_file: AtomicU64,
    /// Parts whose last send got no clear answer (connection lost, 5xx): the message may have
    /// been created, so a retry looks for it before sending again.
    ambiguous: Mutex<HashSet<(u64, String, u32)>>,
    /// Notes written at send time for files that turned out unusable only then (unreadable,
    /// refused by Discord without a known size), by (source message, attachment index), so
    /// [`bridge_core::Sink::degraded`] reports them too.
    late_notes: bridge_core::notes::LateNotes,
    pub(crate) options: SinkOptions,
    /// Held while a copy's reactions line is rewritten (`reactions.rs`).
    pub(crate) lines: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DiscordSink {
    /// A sink for `config`, recording what it creates in `store`.
    ///
    /// # Errors
    /// [`DiscordError::Setup`] for a missing token or an unusable `ca_file`.
    pub fn new(config: &DiscordConfig, store: MappingStore) -> Result<Self, DiscordError> {
        Self::with_options(config, store, SinkOptions::default())
    }

    /// A sink with explicit options.
    ///
    /// # Errors
    /// As [`DiscordSink::new`].
    pub fn with_options(
        config: &DiscordConfig,
        store: MappingStore,
        options: SinkOptions,
    ) -> Result<Self, DiscordError> {
        let limiter = std::sync::Arc::new(Limiter::new(options.limiter.clone()));
        let rest = Rest::new(
            &config.token,
            config.api_base.as_ref(),
            &Transport::new(config)?,
            limiter,
        )?;
        Ok(Self {
            rest,
            store,
            guild: config.guild_id.get(),
            style: Style {
                time: config.time_format,
                reactions: config.reactions,
            },
            avatar_url: config.avatar_url.clone(),
            hooks: Webhooks::default(),
            days: Mutex::new(HashMap::new()),
            quotes: Mutex::new(HashMap::new()),
            max_file: AtomicU64::new(options.max_file_size),
            ambiguous: Mutex::new(HashSet::new()),
            late_notes: bridge_core::notes::LateNotes::default(),
            options,
            lines: tokio::sync::Mutex::new(()),
        })
    }

    /// Invalid requests (401, 403, 429) counted by the limiter in its current window.
    pub fn invalid_requests(&self) -> usize {
        self.rest.limiter().invalid_count()
    }

    /// The parts of `msg` (always planned as for a backfill: the count must not vary).
    pub(crate) fn plan(&self, msg: &Message) -> Vec<PartPlan> {
        convert::plan(msg, self.style, Mode::Backfill)
    }

    /// The webhook of `channel`.
    pub(crate) async fn hook(&self, channel: u64) -> Result<Hook, DiscordError> {
        self.hooks.get(&self.rest, &self.store, channel).await
    }

    fn avatar(&self, msg: &Message) -> Option<String> {
        match &self.avatar_url {
            Some(t) => {
                let name: String =
                    url::form_urlencoded::byte_serialize(msg.sender.id.as_str().as_bytes())
                        .collect();
                Some(t.replace("{username}", &name))
            }
            None => msg.sender.avatar.clone(),
        }
    }

    /// The pieces of `part`'s text known only now: the day separator and the reply quote.
    pub(crate) async fn send_time(
        &self,
        channel: u64,
        hook: &Hook,
        out: &Outgoing<'_>,
        part: &PartPlan,
    ) -> Result<SendTime, DiscordError> {
        let mut now = SendTime::default();
        if !part.head {
            return Ok(now);
        }
        if out.mode == Mode::Backfill && self.style.time != TimeFormat::None {
            let last = self.last_day(channel, hook).await?;
            if last != Some(out.msg.sent_at.date_naive()) {
                now.separator = Some(convert::separator(out.msg.sent_at));
            }
        }
        if out.msg.reply_to.is_some() {
            now.reply = Some(match out.reply_to {
                Some(parent) => {
                    let link = format!(
                        "https://discord.com/channels/{}/{channel}/{parent}",
                        self.guild
                    );
                    match self.quote(channel, parent).await? {
                        Some((author, text)) => convert::reply_line(Some((&author, &text, &link))),
                        None => convert::reply_line(None),
                    }
                }
                None => convert::reply_line(None),
            });
        }
        Ok(now)
    }

    /// The day of the last message copied into `channel`: remembered, or read from the
    /// channel's recent messages (the first `<t:…:f>` of the newest one from our webhook).
    async fn last_day(&self, channel: u64, hook: &Hook) -> Result<Option<NaiveDate>, DiscordError> {
        if let Some(d) = lock(&self.days).get(&channel) {
            return Ok(*d);
        }
        let recent = self.recent(channel, None, None).await?;
        let day = recent
            .iter()
            .filter(|m| m.webhook_id.map(WebhookId::get) == Some(hook.id))
            .find_map(|m| time_in(&m.content))
            .map(|t| t.date_naive());
        lock(&self.days).insert(channel, day);
        Ok(day)
    }

    /// Remembers that a message of `at` was copied into `channel` (its first part).
    pub(crate) fn note_copied(&self, channel: u64, msg: &Message, id: u64, content: &str) {
        lock(&self.days).insert(channel, Some(msg.sent_at.date_naive()));
        let mut q = lock(&self.quotes);
        if q.len() >= QUOTE_CACHE {
            q.clear();
        }
        q.insert(id, (webhook_username(&msg.sender.name), content.to_owned()));
    }

    /// The author and text of copy `parent`, for a quote.
    async fn quote(
        &self,
        channel: u64,
        parent: &MsgId,
    ) -> Result<Option<(String, String)>, DiscordError> {
        let Ok(id) = parent.as_str().parse::<u64>() else {
            return Ok(None);
        };
        if let Some(q) = lock(&self.quotes).get(&id) {
            return Ok(Some(q.clone()));
        }
        let route = Route::ChannelMessage {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(id.max(1)),
        };
        match self
            .rest
            .json::<DiscordMessage>("read message", Request::new(route, LightMethod::Get))
            .await
        {
            Ok(m) => Ok(Some((m.author.name, m.content))),
            Err(DiscordError::Api { code: 10008, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Up to 100 messages of `channel`, newest first, after or before a message.
    pub(crate) async fn recent(
        &self,
        channel: u64,
        after: Option<u64>,
        before: Option<u64>,
    ) -> Result<Vec<DiscordMessage>, DiscordError> {
        let mut params = vec![("limit", "100".to_owned())];
        if let Some(a) = after {
            params.push(("after", a.to_string()));
        }
        if let Some(b) = before {
            params.push(("before", b.to_string()));
        }
        let route = Route::ChannelMessages {
            channel_id: ChannelId::new(channel),
        };
        self.rest
            .json(
                "read messages",
                Request::new(route, LightMethod::Get).params(Some(params)),
            )
            .await
    }

    /// Executes the webhook: one message, at most one file.
    pub(crate) async fn execute(
        &self,
        hook: &Hook,
        msg: &Message,
        mode: Mode,
        content: &str,
        file: Option<(&str, Vec<u8>)>,
    ) -> Result<DiscordMessage, DiscordError> {
        let mut payload = json!({
            "content": content,
            "username": webhook_username(&msg.sender.name),
            "allowed_mentions": mentions(mode),
            "flags": if mode == Mode::Backfill { SUPPRESS_NOTIFICATIONS } else { 0 },
        });
        if let Some(a) = self.avatar(msg) {
            payload["avatar_url"] = json!(a);
        }
        let route = Route::WebhookWithToken {
            webhook_id: WebhookId::new(hook.id.max(1)),
            token: &hook.token,
        };
        let mut req =
            Request::new(route, LightMethod::Post).params(Some(vec![("wait", "true".to_owned())]));
        let to_vec = |v: &serde_json::Value| {
            serde_json::to_vec(v).map_err(|e| DiscordError::Setup(e.to_string()))
        };
        req = match file {
            None => req.body(Some(to_vec(&payload)?)),
            Some((name, bytes)) => {
                payload["attachments"] = json!([{ "id": 0, "filename": name }]);
                let json = String::from_utf8(to_vec(&payload)?)
                    .map_err(|e| DiscordError::Setup(e.to_string()))?;
                req.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        bytes, name,
                    )]),
                    fields: vec![],
                    payload_json: Some(json),
                }))
            }
        };
        self.rest.json("execute webhook", req).await
    }

    /// Why `a` is left out of its copy, when that is known without reading it: the source
    /// could not supply it, or its size is over the upload limit.
    fn left_out(&self, a: &Attachment) -> Option<String> {
        if let Some(why) = a.unavailable_reason() {
            return Some(why.to_owned());
        }
        let limit = self.max_file.load(Ordering::Relaxed);
        a.size.filter(|s| *s > limit).map(|_| too_large(limit))
    }

    /// The note that replaces part `part`'s file, when it is known before sending.
    pub(crate) fn planned_note(&self, msg: &Message, part: &PartPlan) -> Option<String> {
        let a = part.file.and_then(|i| msg.content.attachments.get(i))?;
        self.left_out(a)
            .map(|why| convert::file_note(&a.not_copied(&why)))
    }

    /// Remembers `text`, the note for `part`'s file that only the send found out (for
    /// [`bridge_core::Sink::degraded`]), and returns it as the copy shows it.
    fn late_note(&self, msg: &Message, part: &PartPlan, text: String) -> String {
        let note = convert::file_note(&text);
        if let Some(i) = part.file {
            self.late_notes.record(msg, i, text);
        }
        note
    }

    /// Sends `part` of `out`; a file that cannot be uploaded is replaced by a note.
    async fn send_part(
        &self,
        channel: u64,
        out: &Outgoing<'_>,
        part: &PartPlan,
    ) -> Result<u64, DiscordError> {
        let hook = self.hook(channel).await?;
        let mut now = self.send_time(channel, &hook, out, part).await?;
        let msg = out.msg;
        let attachment = part.file.and_then(|i| msg.content.attachments.get(i));
        let mut file = None;
        now.note = self.planned_note(msg, part);
        if let (Some(a), None) = (attachment, &now.note) {
            let limit = self.max_file.load(Ordering::Relaxed);
            match a.data.read().await {
                Ok(b) if b.len() as u64 > limit => {
                    let sized = Attachment {
                        size: Some(b.len() as u64),
                        ..a.clone()
                    };
                    let text = sized.not_copied(&too_large(limit));
                    now.note = Some(self.late_note(msg, part, text));
                }
                Ok(b) => file = Some(b),
                Err(e) => {
                    warn!(msg = %msg.origin, file = %a.data.describe(), error = %e,
                        "attachment unreadable; sending a note in its place");
                    let text = a.not_copied(&format!("it could not be read ({e})"));
                    now.note = Some(self.late_note(msg, part, text));
                }
            }
        }
        let content = convert::content(msg, part, self.style, out.mode, &now);
        let name = attachment.map_or("file", |a| a.name.as_str());
        let sent = match file {
            Some(bytes) => {
                let size = bytes.len() as u64;
                match self
                    .execute(&hook, msg, out.mode, &content, Some((name, bytes)))
                    .await
                {
                    Err(e) if e.code() == Some(40005) => {
                        // Discord's limit is lower than ours: learn it, send the note instead.
                        self.max_file
                            .fetch_min(size.saturating_sub(1), Ordering::Relaxed);
                        warn!(msg = %msg.origin, size, "Discord refused the file as too large; sending a note");
                        let limit = self.max_file.load(Ordering::Relaxed);
                        let sized = attachment.map(|a| Attachment {
                            size: Some(size),
                            ..a.clone()
                        });
                        let text = sized
                            .map_or_else(|| too_large(limit), |a| a.not_copied(&too_large(limit)));
                        now.note = Some(self.late_note(msg, part, text));
                        let content = convert::content(msg, part, self.style, out.mode, &now);
                        self.execute(&hook, msg, out.mode, &content, None).await
                    }
                    other => other,
                }
            }
            None => self.execute(&hook, msg, out.mode, &content, None).await,
        };
        let sent = match sent {
            Err(e @ DiscordError::Api { code: 10015, .. }) => {
                self.hooks.forget(channel);
                return Err(e);
            }
            other => other?,
        };
        let id = sent.id.get();
        if part.head {
            self.note_copied(channel, msg, id, &sent.content);
        }
        if part.tail && self.style.reactions == ReactionStyle::Bot {
            self.react_backfill(channel, id, msg).await;
        }
        Ok(id)
    }
}

/// What a copy's mentions may notify: nothing in a backfill (it is history); in a live copy the
/// users it mentions, as the original did, but never `@everyone`, `@here` or a role, which a
/// bridged message must not be able to ping.
pub(crate) fn mentions(mode: Mode) -> serde_json::Value {
    match mode {
        Mode::Backfill => json!({ "parse": [] }),
        Mode::Live => json!({ "parse": ["users"] }),
    }
}

/// Why a file over the upload limit is left out.
fn too_large(limit: u64) -> String {
    format!("larger than Discord's {} limit", human_size(limit))
}

/// The first `<t:UNIX:f>` of a copy's text.
fn time_in(content: &str) -> Option<DateTime<Utc>> {
    let mut rest = content;
    while let Some(i) = rest.find("<t:") {
        rest = &rest[i + 3..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if rest[digits.len()..].starts_with(":f>") {
            return digits
                .parse()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0));
        }
    }
    None
}
