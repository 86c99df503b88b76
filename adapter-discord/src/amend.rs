//! Live copies changed after they were sent: edits (each text part PATCHed through the
//! channel's webhook with its share of the new text, split exactly as a send splits it, so an
//! edited long text lines up with the parts), the text parts an edit adds (sent as live
//! messages, found again after a crash) and deletes.
//!
//! A webhook can change only the messages it sent itself: Discord answers 10008 "Unknown
//! Message" for any other, as for a deleted one. The message is then read as the bot to tell
//! the two apart: an edit of a copy made by another webhook (the channel's kbbridge webhook was
//! deleted and made again) is rejected with that reason; a delete falls back to the bot's own
//! delete route (which needs Manage Messages), and a message already gone counts as deleted.
//!
//! An edit carries neither the original time nor the message replied to, so the first part
//! keeps what the copy showed before its text (day separator, reply quote, `<t:…:f>` time),
//! read from the copy itself; with `[discord] reactions = "line"` the last part gets the
//! reactions line back (`reactions.rs`).

use bridge_core::{
    AdapterError, ChatId, ChatRef, Content, Message, Mode, MsgId, MsgRef, Platform, TextPart,
    store::{CopyRow, CopyState},
};
use serde_json::json;
use serenity::{
    http::{LightMethod, Request, Route},
    model::{
        channel::Message as DiscordMessage,
        id::{ChannelId, MessageId, WebhookId},
    },
};
use tracing::{debug, info};

use crate::{
    channels,
    config::ReactionStyle,
    convert::{self, SendTime},
    error::DiscordError,
    markdown,
    names::webhook_username,
    sink::{DiscordSink, mentions},
    split::MAX_CHARS,
};

/// Discord's "Unknown Message".
const UNKNOWN_MESSAGE: i64 = 10008;
/// Discord's "Unknown Webhook": the channel's webhook was deleted.
const UNKNOWN_WEBHOOK: i64 = 10015;

/// The Discord message ID of a copy part.
pub(crate) fn message_id(target: &MsgId) -> Result<u64, AdapterError> {
    target
        .as_str()
        .parse()
        .map_err(|_| AdapterError::rejected(format!("{target:?} is not a Discord message ID")))
}

/// `content` cut to what one Discord message holds.
fn fit(content: String) -> String {
    if content.chars().count() <= MAX_CHARS {
        content
    } else {
        convert::truncate(&content, MAX_CHARS)
    }
}

/// What kbbridge put before the text of a copy's first part: day separator and reply quote
/// lines, then a `<t:…:f> ` time; empty when there is none.
fn added_head(content: &str) -> &str {
    let mut end = 0;
    let mut rest = content;
    while rest.starts_with("**── <t:") || rest.starts_with("> ↪ ") {
        let Some(nl) = rest.find('\n') else { break };
        end += nl + 1;
        rest = &rest[nl + 1..];
    }
    if let Some(after) = rest.strip_prefix("<t:") {
        if let Some(close) = after.find(":f> ") {
            if after[..close].bytes().all(|b| b.is_ascii_digit()) {
                end += 3 + close + 4;
            }
        }
    }
    &content[..end]
}

impl DiscordSink {
    /// How many leading parts of `msg`'s copy carry its text: up to the one with its end (the
    /// first file rides with it; further files follow).
    pub(crate) fn text_count(&self, msg: &Message) -> u32 {
        let n = self
            .plan(msg)
            .iter()
            .position(|p| p.tail)
            .map_or(1, |i| i + 1);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The text of part `text.index` of an edited copy, as a live send would write it; whether
    /// it is the first and the last text part.
    fn edited_text(&self, text: &TextPart<'_>) -> Result<(String, bool, bool), AdapterError> {
        let plan = self.plan(text.msg);
        let part = plan
            .get(text.index as usize)
            .filter(|p| !p.body.is_empty() || p.head || p.tail)
            .ok_or_else(|| {
                AdapterError::rejected(format!(
                    "the edited text has no part {} (it has {})",
                    text.index,
                    self.text_count(text.msg)
                ))
            })?;
        let content =
            convert::content(text.msg, part, self.style, Mode::Live, &SendTime::default());
        Ok((content, part.head, part.tail))
    }

    /// Whether the copy's reactions are a line in its text.
    fn line_mode(&self) -> bool {
        self.style.reactions == ReactionStyle::Line
    }

    /// Rewrites text part `text.index` of a copy (`target`) with its share of the new text.
    pub(crate) async fn edit_part(
        &self,
        to: &ChatId,
        target: &MsgId,
        text: TextPart<'_>,
    ) -> Result<(), AdapterError> {
        let channel = channels::channel_id(to)?;
        let id = message_id(target)?;
        let (mut content, head, tail) = self.edited_text(&text)?;
        let _one = match self.line_mode() {
            true => Some(self.lines.lock().await),
            false => None,
        };
        // Read before any part is rewritten: the line may still be on a part this edit
        // turns into a middle one.
        let line = match self.line_mode() {
            true => Some(self.line_state(channel, to, &text.msg.origin).await?),
            false => None,
        };
        if head {
            if let Some(now) = self.read_message(channel, id).await? {
                let kept = added_head(&now.content);
                if !kept.is_empty() && kept.chars().count() + content.chars().count() <= MAX_CHARS {
                    content = format!("{kept}{content}");
                }
            }
        }
        match line.filter(|_| tail) {
            Some(mut state) => {
                let (content, shown) = state.attach(&content);
                self.patch(channel, id, &content).await?;
                state.shown = shown;
                self.save_line(channel, &text.msg.origin, &state).await?;
            }
            None => self.patch(channel, id, &fit(content)).await?,
        }
        debug!(msg = %text.msg.origin, index = text.index, id, "copy edited");
        Ok(())
    }

    /// The content a text part an edit adds is sent with.
    async fn added_content(
        &self,
        channel: u64,
        to: &ChatId,
        text: &TextPart<'_>,
    ) -> Result<(String, Option<crate::reactions::LineState>), AdapterError> {
        let (content, _, tail) = self.edited_text(text)?;
        if tail && self.line_mode() {
            let mut state = self.line_state(channel, to, &text.msg.origin).await?;
            let (content, shown) = state.attach(&content);
            state.shown = shown;
            return Ok((content, Some(state)));
        }
        Ok((fit(content), None))
    }

    /// Sends text part `text.index` of an edited copy as a new live message.
    pub(crate) async fn add_part(
        &self,
        to: &ChatId,
        text: TextPart<'_>,
    ) -> Result<MsgId, AdapterError> {
        let channel = channels::channel_id(to)?;
        let _one = match self.line_mode() {
            true => Some(self.lines.lock().await),
            false => None,
        };
        let (content, line) = self.added_content(channel, to, &text).await?;
        let hook = self.hook(channel).await?;
        let sent = match self
            .execute(&hook, text.msg, Mode::Live, &content, None)
            .await
        {
            Err(e) if e.code() == Some(UNKNOWN_WEBHOOK) => {
                self.hooks.forget(channel);
                return Err(e.into());
            }
            other => other?,
        };
        if let Some(state) = line {
            self.save_line(channel, &text.msg.origin, &state).await?;
        }
        debug!(msg = %text.msg.origin, index = text.index, id = %sent.id, "edit added a part");
        Ok(MsgId::new(sent.id.to_string()))
    }

    /// After a crash: the text part `text` an edit was adding, if it arrived. Found as an
    /// interrupted send is (`reconcile.rs`): among the channel's recent messages, by webhook,
    /// author and exact content, skipping those the store maps to another message.
    pub(crate) async fn find_part(
        &self,
        to: &ChatId,
        text: TextPart<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        let channel = channels::channel_id(to)?;
        let (expected, _) = self.added_content(channel, to, &text).await?;
        let hook = self.hook(channel).await?;
        let author = webhook_username(&text.msg.sender.name);
        let matches = |m: &DiscordMessage| {
            m.webhook_id.map(WebhookId::get) == Some(hook.id)
                && m.author.name == author
                && m.attachments.is_empty()
                && m.content == expected
        };
        let chat = ChatRef {
            platform: Platform::Discord,
            chat: to.clone(),
        };
        let mut before = None;
        let mut found: Option<u64> = None;
        for _ in 0..self.options.reconcile_pages.max(1) {
            let page = self.recent(channel, None, before).await?;
            for m in page.iter().filter(|m| matches(m)) {
                let copy = chat.msg(MsgId::new(m.id.to_string()));
                let other = self
                    .store
                    .origin_of(&copy)
                    .await
                    .map_err(DiscordError::from)?
                    .is_some_and(|o| o != text.msg.origin);
                if !other && found.is_none_or(|f| m.id.get() < f) {
                    found = Some(m.id.get());
                }
            }
            if page.len() < 100 {
                break;
            }
            before = page.last().map(|m| m.id.get());
        }
        if let Some(id) = found {
            info!(msg = %text.msg.origin, index = text.index, id,
                "found the text part an interrupted edit was adding");
        }
        Ok(found.map(|id| MsgId::new(id.to_string())))
    }

    /// Replaces the whole text of a one-part copy.
    pub(crate) async fn edit_whole(
        &self,
        to: &ChatId,
        target: &MsgId,
        content: &Content,
    ) -> Result<(), AdapterError> {
        let channel = channels::channel_id(to)?;
        let id = message_id(target)?;
        let text = markdown::to_discord(&content.text, &content.syntax);
        let len = text.chars().count();
        if len > MAX_CHARS {
            return Err(AdapterError::rejected(format!(
                "the new text is {len} characters, over Discord's {MAX_CHARS} for one message \
                 (the relay edits a long text part by part)"
            )));
        }
        self.patch(channel, id, &text).await
    }

    /// Deletes a copy part: through the webhook, else as the bot; one already gone is done.
    pub(crate) async fn delete_copy(
        &self,
        to: &ChatId,
        target: &MsgId,
    ) -> Result<(), AdapterError> {
        let channel = channels::channel_id(to)?;
        let id = message_id(target)?;
        let hook = self.hook(channel).await?;
        let route = Route::WebhookMessage {
            webhook_id: WebhookId::new(hook.id.max(1)),
            token: &hook.token,
            message_id: MessageId::new(id.max(1)),
        };
        match self
            .rest
            .call("delete message", Request::new(route, LightMethod::Delete))
            .await
        {
            Ok(_) => {
                debug!(channel, id, "copy deleted");
                return Ok(());
            }
            Err(e) if e.code() == Some(UNKNOWN_WEBHOOK) => {
                self.hooks.forget(channel);
                return Err(e.into());
            }
            Err(e) if e.code() == Some(UNKNOWN_MESSAGE) => {}
            Err(e) => return Err(e.into()),
        }
        if self.read_message(channel, id).await?.is_none() {
            debug!(channel, id, "nothing to delete: the copy is already gone");
            return Ok(());
        }
        // Sent by another webhook: only the bot's own route (Manage Messages) can delete it.
        let route = Route::ChannelMessage {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(id.max(1)),
        };
        match self
            .rest
            .call("delete message", Request::new(route, LightMethod::Delete))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(UNKNOWN_MESSAGE) => Ok(()),
            Err(DiscordError::Api { status: 403, .. }) => Err(AdapterError::rejected(format!(
                "Discord message {id} was not sent by this channel's kbbridge webhook (it was \
                 deleted and made again?) and the bot may not delete others' messages: give it \
                 Manage Messages in the channel, or delete the message by hand"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the content of `id`, a message of the channel's webhook.
    pub(crate) async fn patch(
        &self,
        channel: u64,
        id: u64,
        content: &str,
    ) -> Result<(), AdapterError> {
        let hook = self.hook(channel).await?;
        let body = json!({ "content": content, "allowed_mentions": mentions(Mode::Live) });
        let body = serde_json::to_vec(&body).map_err(|e| DiscordError::Setup(e.to_string()))?;
        let route = Route::WebhookMessage {
            webhook_id: WebhookId::new(hook.id.max(1)),
            token: &hook.token,
            message_id: MessageId::new(id.max(1)),
        };
        let req = Request::new(route, LightMethod::Patch).body(Some(body));
        match self.rest.call("edit message", req).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(UNKNOWN_WEBHOOK) => {
                self.hooks.forget(channel);
                Err(e.into())
            }
            Err(e) if e.code() == Some(UNKNOWN_MESSAGE) => {
                Err(match self.read_message(channel, id).await? {
                    None => AdapterError::rejected(format!(
                        "the copy (Discord message {id}) was deleted on Discord; nothing to edit"
                    )),
                    Some(_) => AdapterError::rejected(format!(
                        "Discord message {id} was not sent by this channel's kbbridge webhook \
                         (it was deleted and made again?): a webhook can edit only its own \
                         messages, so the copy keeps its old text"
                    )),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Message `id` of `channel` as the bot reads it; `None` when Discord does not know it.
    pub(crate) async fn read_message(
        &self,
        channel: u64,
        id: u64,
    ) -> Result<Option<DiscordMessage>, DiscordError> {
        let route = Route::ChannelMessage {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(id.max(1)),
        };
        match self
            .rest
            .json("read message", Request::new(route, LightMethod::Get))
            .await
        {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.code() == Some(UNKNOWN_MESSAGE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The Discord message that carries the end of `origin`'s text in `to` (where the
    /// reactions line goes): the last of its text parts (`copy_text`, else part 0).
    pub(crate) async fn last_text_part(
        &self,
        to: &ChatId,
        origin: &MsgRef,
    ) -> Result<Option<u64>, DiscordError> {
        let chat = ChatRef {
            platform: Platform::Discord,
            chat: to.clone(),
        };
        let last = self
            .store
            .text_layout(origin, &chat)
            .await?
            .and_then(|l| l.parts.last().copied())
            .unwrap_or(0);
        let rows: Vec<CopyRow> = self.store.copies(origin, &chat).await?;
        Ok(rows
            .iter()
            .find(|r| r.part == last && r.state == CopyState::Sent)
            .and_then(|r| r.msg.as_ref())
            .and_then(|m| m.as_str().parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_added_head_is_separator_quote_and_time() {
        let c = "**── <t:1:D> ──**\n> ↪ **bob** hi [↗](x)\n<t:17:f> text\nmore";
        assert_eq!(
            added_head(c),
            "**── <t:1:D> ──**\n> ↪ **bob** hi [↗](x)\n<t:17:f> "
        );
        assert_eq!(added_head("<t:17:f> text"), "<t:17:f> ");
        assert_eq!(added_head("plain <t:17:f> text"), "");
        assert_eq!(added_head("<t:1x:f> text"), "");
    }
}
