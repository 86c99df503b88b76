//! Reactions on copies, as `[discord] reactions` says (a webhook cannot react as the author):
//!
//! - `bot`: the bot's own reaction, one per emoji. The relay counts the source users sharing
//!   it ([`bridge_core::ReactionStyle::Shared`]): added with the first, taken back with the
//!   last. Discord allows 20 different emoji on a message (code 30010); a 21st is rejected with
//!   that reason, which the relay logs and skips.
//! - `line` (the default): a `-# 👍 alice, bob · 🎉 dave` line at the end of the copy's last
//!   text part, as the backfill writes it, re-rendered at each reaction given or taken back
//!   (the relay passes them one user at a time: [`bridge_core::ReactionStyle::PerUser`]). What
//!   the line lists, and the line as the copy shows it, are kept in the store's generic
//!   `target` table (kind `reactions_line`, one row per copy), so edits put it back and a
//!   restart keeps it. A backfilled copy's own line is read back the first time.
//! - `none`: not relayed (`Unsupported`: the relay skips them).
//!
//! Emoji are given to Discord as Unicode; Keybase's `:shortcode:` becomes its emoji. A
//! Keybase custom emoji has no Discord equivalent: rejected in `bot` mode, shown as `:name:`
//! in the line.

use bridge_core::{AdapterError, ChatId, Message, MsgId, MsgRef, Platform, Report, Sender};
use serde::{Deserialize, Serialize};
use serenity::{
    http::{LightMethod, Request, Route},
    model::{
        channel::ReactionType,
        id::{ChannelId, MessageId},
    },
};
use tracing::{debug, warn};

use crate::{
    amend::message_id,
    channels,
    config::ReactionStyle,
    convert::{self, emoji_text},
    error::DiscordError,
    sink::DiscordSink,
    split::MAX_CHARS,
};

/// The `target` kind the reactions line of a copy is kept under.
const LINE_KIND: &str = "reactions_line";
/// SUPPRESS_NOTIFICATIONS, which marks a backfilled copy.
const SILENT: u64 = 1 << 12;
/// Below this many characters of room, the line is left out of a full part.
const LINE_MIN: usize = 8;

/// The emoji Discord is given for `emoji`: Unicode as it is, a `:shortcode:` as its emoji;
/// `None` for a custom or unknown one (a bare name, an unknown shortcode).
pub(crate) fn discord_emoji(emoji: &str) -> Option<String> {
    let emoji = emoji.trim();
    if let Some(name) = emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':')) {
        return emojis::get_by_shortcode(name).map(|e| e.as_str().to_owned());
    }
    (!emoji.is_empty() && !emoji.is_ascii()).then(|| emoji.to_owned())
}

/// The reactions line of one copy: who reacted with what, and the line as the copy shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LineState {
    /// Each emoji (as shown) and who reacted with it, in the order they came.
    entries: Vec<(String, Vec<String>)>,
    /// The line in the copy's last text part now, exactly; `None` when it shows none.
    pub(crate) shown: Option<String>,
}

impl LineState {
    fn change(&mut self, emoji: &str, who: &str, add: bool) {
        let at = self.entries.iter().position(|(e, _)| e == emoji);
        match (at, add) {
            (Some(i), true) => {
                let users = &mut self.entries[i].1;
                if !users.iter().any(|u| u == who) {
                    users.push(who.to_owned());
                }
            }
            (None, true) => self.entries.push((emoji.to_owned(), vec![who.to_owned()])),
            (Some(i), false) => {
                self.entries[i].1.retain(|u| u != who);
                if self.entries[i].1.is_empty() {
                    self.entries.remove(i);
                }
            }
            (None, false) => {}
        }
    }

    fn render(&self) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        Some(convert::reactions_text(self.entries.iter().map(
            |(e, who)| (e.as_str(), who.iter().map(String::as_str).collect()),
        )))
    }

    /// `content` with the line at its end, both within one message; and the line as shown.
    pub(crate) fn attach(&self, content: &str) -> (String, Option<String>) {
        place(content, None, self.render().as_deref())
    }

    /// The line a backfilled copy shows (the last `-# ` line that is not a time), read back.
    fn parse(content: &str) -> Option<Self> {
        let line = content
            .lines()
            .rev()
            .find(|l| l.starts_with("-# ") && !l.starts_with("-# <t:"))?;
        let mut entries = Vec::new();
        for entry in line["-# ".len()..].split(" · ") {
            let (emoji, who) = entry.split_once(' ')?;
            let who = unescape(who).split(", ").map(str::to_owned).collect();
            entries.push((emoji.to_owned(), who));
        }
        Some(Self {
            entries,
            shown: Some(line.to_owned()),
        })
    }
}

/// Markdown escapes removed (what `markdown::escape` added to a name).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// `content` with its line `old` (when it shows it) replaced by `new`, in place, or `new`
/// added at the end; cut to fit one message. Returns the content and the line as it shows.
fn place(content: &str, old: Option<&str>, new: Option<&str>) -> (String, Option<String>) {
    let found = |line: &str| {
        content
            .rfind(&format!("\n{line}"))
            .map(|i| (i, line.len() + 1))
    };
    // A crash after the copy was edited, before `shown` was saved: the new line is there.
    let at = old.and_then(found).or_else(|| new.and_then(found));
    let (before, after) = match at {
        Some((i, len)) => (&content[..i], &content[i + len..]),
        None => (content, ""),
    };
    let Some(new) = new else {
        return (format!("{before}{after}"), None);
    };
    let room = MAX_CHARS.saturating_sub(before.chars().count() + after.chars().count() + 1);
    if room < LINE_MIN {
        warn!("no room left in the copy's last part for its reactions line; not shown");
        return (format!("{before}{after}"), None);
    }
    let line = convert::truncate(new, room);
    (format!("{before}\n{line}{after}"), Some(line))
}

impl DiscordSink {
    /// Adds `msg`'s reactions to copy `id` as the bot (one per emoji; who reacted is lost).
    pub(crate) async fn react_backfill(&self, channel: u64, id: u64, msg: &Message) {
        for r in &msg.reactions {
            let emoji = discord_emoji(&r.emoji).unwrap_or_else(|| r.emoji.clone());
            if let Err(e) = self.bot_reaction(channel, id, &emoji, true).await {
                warn!(msg = %msg.origin, emoji = %r.emoji, error = %Report::new(&e),
                    "reaction not added");
            }
        }
    }

    /// Adds (`add`) or takes back `sender`'s reaction `emoji` on the copy part `target`.
    pub(crate) async fn react_live(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
        add: bool,
    ) -> Result<(), AdapterError> {
        let channel = channels::channel_id(to)?;
        let id = message_id(target)?;
        match self.style.reactions {
            ReactionStyle::None => Err(AdapterError::Unsupported(
                "reactions with `[discord] reactions = \"none\"`",
            )),
            ReactionStyle::Bot => {
                let Some(unicode) = discord_emoji(emoji) else {
                    return Err(AdapterError::rejected(format!(
                        "{emoji} is a custom emoji with no Discord equivalent; the bot cannot \
                         react with it"
                    )));
                };
                match self.bot_reaction(channel, id, &unicode, add).await {
                    Err(e) if e.code() == Some(30010) => Err(AdapterError::rejected(format!(
                        "the copy (Discord message {id}) already has Discord's maximum of 20 \
                         different reactions; {emoji} is not shown there"
                    ))),
                    Err(e) if e.code() == Some(10014) => Err(AdapterError::rejected(format!(
                        "Discord does not know the emoji {emoji}"
                    ))),
                    Err(e) if e.code() == Some(10008) && !add => {
                        debug!(channel, id, "the copy is gone: no reaction to take back");
                        Ok(())
                    }
                    other => Ok(other?),
                }
            }
            ReactionStyle::Line => {
                let copy = MsgRef {
                    platform: Platform::Discord,
                    chat: to.clone(),
                    msg: target.clone(),
                };
                let origin = self
                    .store
                    .origin_of(&copy)
                    .await
                    .map_err(DiscordError::from)?
                    .ok_or_else(|| {
                        AdapterError::rejected(format!(
                            "Discord message {id} is not a copy kbbridge recorded; it has no \
                             reactions line to update"
                        ))
                    })?;
                let shown = discord_emoji(emoji).unwrap_or_else(|| emoji_text(emoji));
                self.change_line(channel, to, &origin, &shown, &sender.name, add)
                    .await
            }
        }
    }

    /// The bot's reaction `emoji` (Unicode) on message `id`, added or taken back.
    async fn bot_reaction(
        &self,
        channel: u64,
        id: u64,
        emoji: &str,
        add: bool,
    ) -> Result<(), DiscordError> {
        let data = ReactionType::Unicode(emoji.to_owned()).as_data();
        let route = Route::ChannelMessageReactionMe {
            channel_id: ChannelId::new(channel),
            message_id: MessageId::new(id.max(1)),
            reaction: &data,
        };
        let (method, call) = match add {
            true => (LightMethod::Put, "add reaction"),
            false => (LightMethod::Delete, "remove reaction"),
        };
        self.rest.call(call, Request::new(route, method)).await?;
        Ok(())
    }

    /// Re-renders the reactions line of `origin`'s copy with `who`'s `emoji` added or taken
    /// back.
    async fn change_line(
        &self,
        channel: u64,
        to: &ChatId,
        origin: &MsgRef,
        emoji: &str,
        who: &str,
        add: bool,
    ) -> Result<(), AdapterError> {
        // Two source chats may react on one copy at once: one change of a line at a time.
        let _one = self.lines.lock().await;
        let mut state = self.line_state(channel, to, origin).await?;
        let old = state.shown.clone();
        state.change(emoji, who, add);
        // Saved first: a crash before the edit leaves the list right for the next change.
        self.save_line(channel, origin, &state).await?;
        let tail = self.last_text_part(to, origin).await?;
        let Some(now) = self.read_text_part(channel, tail).await? else {
            return Err(AdapterError::rejected(
                "the copy was deleted on Discord; its reactions line is gone with it",
            ));
        };
        let (content, shown) = place(&now.1, old.as_deref(), state.render().as_deref());
        if content != now.1 {
            self.patch(channel, now.0, &content).await?;
        }
        state.shown = shown;
        self.save_line(channel, origin, &state).await?;
        Ok(())
    }

    /// The ID and content of message `id`, when it exists.
    async fn read_text_part(
        &self,
        channel: u64,
        id: Option<u64>,
    ) -> Result<Option<(u64, String)>, DiscordError> {
        let Some(id) = id else { return Ok(None) };
        Ok(self
            .read_message(channel, id)
            .await?
            .map(|m| (id, m.content)))
    }

    /// The reactions line of `origin`'s copy: as recorded, else read back from a backfilled
    /// copy (and recorded).
    pub(crate) async fn line_state(
        &self,
        channel: u64,
        to: &ChatId,
        origin: &MsgRef,
    ) -> Result<LineState, AdapterError> {
        let key = line_key(channel, origin);
        let recorded = self
            .store
            .target(Platform::Discord, LINE_KIND, &key)
            .await
            .map_err(DiscordError::from)?;
        if let Some(json) = recorded {
            return Ok(serde_json::from_str(&json).unwrap_or_else(|e| {
                warn!(msg = %origin, error = %e, "unreadable reactions line record; starting anew");
                LineState::default()
            }));
        }
        let tail = self.last_text_part(to, origin).await?;
        let state = match tail {
            Some(id) => self
                .read_message(channel, id)
                .await?
                // Only a backfilled copy has a line kbbridge did not record: a live copy's
                // `-# ` line is the author's own text.
                .filter(|m| m.flags.is_some_and(|f| f.bits() & SILENT != 0))
                .and_then(|m| LineState::parse(&m.content))
                .unwrap_or_default(),
            None => LineState::default(),
        };
        self.save_line(channel, origin, &state).await?;
        Ok(state)
    }

    /// Records `state` as the reactions line of `origin`'s copy in `channel`.
    pub(crate) async fn save_line(
        &self,
        channel: u64,
        origin: &MsgRef,
        state: &LineState,
    ) -> Result<(), AdapterError> {
        let json = serde_json::to_string(state).map_err(|e| DiscordError::Setup(e.to_string()))?;
        self.store
            .save_target(
                Platform::Discord,
                LINE_KIND,
                &line_key(channel, origin),
                &json,
                false,
            )
            .await
            .map_err(DiscordError::from)?;
        Ok(())
    }
}

/// The record key of the line of `origin`'s copy in `channel` (a JSON array: unambiguous
/// whatever the chat name holds).
fn line_key(channel: u64, origin: &MsgRef) -> String {
    serde_json::json!([
        channel.to_string(),
        origin.platform.as_str(),
        origin.chat.as_str(),
        origin.msg.as_str()
    ])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_become_unicode_and_custom_emoji_are_none() {
        assert_eq!(discord_emoji(":+1:").as_deref(), Some("👍"));
        assert_eq!(discord_emoji(":tada:").as_deref(), Some("🎉"));
        assert_eq!(discord_emoji("🎉").as_deref(), Some("🎉"));
        assert_eq!(discord_emoji(":party_parrot_custom:"), None);
        assert_eq!(discord_emoji("heartEyes"), None);
    }

    #[test]
    fn the_line_follows_adds_and_removes_and_is_replaced_in_place() {
        let mut s = LineState::default();
        s.change("👍", "alice", true);
        s.change("👍", "bob_x", true);
        s.change("🎉", "carol", true);
        s.change("👍", "alice", true);
        assert_eq!(
            s.render().as_deref(),
            Some("-# 👍 alice, bob\\_x · 🎉 carol")
        );
        let (c, shown) = place("hello\n📎 *note*", None, s.render().as_deref());
        assert_eq!(c, "hello\n📎 *note*\n-# 👍 alice, bob\\_x · 🎉 carol");
        let old = shown;
        s.change("👍", "alice", false);
        s.change("🎉", "carol", false);
        let (c2, shown) = place(&c, old.as_deref(), s.render().as_deref());
        assert_eq!(c2, "hello\n📎 *note*\n-# 👍 bob\\_x");
        s.change("👍", "bob_x", false);
        assert_eq!(
            place(&c2, shown.as_deref(), s.render().as_deref()).0,
            "hello\n📎 *note*"
        );
    }

    #[test]
    fn a_backfilled_line_is_read_back() {
        let c = "<t:1:f> hi *(edited)*\n-# <t:1:f>\n-# 👍 bob, carol\\_x · :custom: dave";
        let s = LineState::parse(c).unwrap();
        assert_eq!(
            s.entries,
            vec![
                (
                    "👍".to_owned(),
                    vec!["bob".to_owned(), "carol_x".to_owned()]
                ),
                (":custom:".to_owned(), vec!["dave".to_owned()]),
            ]
        );
        assert_eq!(s.render(), s.shown);
    }

    #[test]
    fn a_full_part_gets_a_cut_line_or_none() {
        let mut s = LineState::default();
        s.change("👍", "alice", true);
        let (c, shown) = place(&"x".repeat(MAX_CHARS - 10), None, s.render().as_deref());
        assert_eq!(c.chars().count(), MAX_CHARS);
        assert!(shown.unwrap().ends_with('…'));
        let (c, shown) = place(&"x".repeat(MAX_CHARS - 3), None, s.render().as_deref());
        assert_eq!((c.chars().count(), shown), (MAX_CHARS - 3, None));
    }
}
