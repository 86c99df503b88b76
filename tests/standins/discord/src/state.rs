//! The stand-in's world: one guild, its channels, webhooks and roles, and every accepted message.

use std::{
    collections::{BTreeMap, HashMap},
    time::{SystemTime, UNIX_EPOCH},
};

use super::guild::GuildSetup;

/// Discord's epoch (2015-01-01) in Unix milliseconds; snowflakes count from it.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Channel types the stand-in knows.
pub const TEXT: u8 = 0;
/// A category.
pub const CATEGORY: u8 = 4;

/// A guild channel or category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Its snowflake.
    pub id: u64,
    /// 0 text, 4 category.
    pub kind: u8,
    /// Its name, as stored (text channel names are normalized as Discord does).
    pub name: String,
    /// Its topic.
    pub topic: Option<String>,
    /// The category it is in.
    pub parent_id: Option<u64>,
    /// Whether `@everyone` is denied VIEW_CHANNEL (a private channel).
    pub private: bool,
}

/// A channel webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookInfo {
    /// Its snowflake.
    pub id: u64,
    /// The channel it posts in.
    pub channel_id: u64,
    /// Its name.
    pub name: String,
    /// Its secret token.
    pub token: String,
}

/// A file of an accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedFile {
    /// The attachment's snowflake.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// The bytes received.
    pub bytes: Vec<u8>,
}

/// One emoji's reactions on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedReaction {
    /// The emoji: a Unicode emoji, or `name:id` for a custom one.
    pub emoji: String,
    /// Who reacted with it (the bot's ID, humans' IDs), in order.
    pub users: Vec<u64>,
}

/// An accepted message, as recorded for assertions.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedMessage {
    /// Its snowflake.
    pub id: u64,
    /// The channel it was posted in.
    pub channel_id: u64,
    /// The webhook that posted it (`None`: the bot or a human).
    pub webhook_id: Option<u64>,
    /// The author's ID: the webhook's (as Discord shows webhook messages), the bot's or a
    /// human's.
    pub author_id: u64,
    /// The author name shown (the webhook's `username` override, else its name; the bot's or
    /// the human's name).
    pub author_name: String,
    /// The avatar override.
    pub avatar_url: Option<String>,
    /// The content.
    pub content: String,
    /// The message flags as sent.
    pub flags: u64,
    /// The `allowed_mentions` object as sent (`None`: absent).
    pub allowed_mentions: Option<serde_json::Value>,
    /// What would have notified someone: `"everyone"`, `"role:ID"`, `"user:ID"`.
    pub pinged: Vec<String>,
    /// Files, in order.
    pub files: Vec<RecordedFile>,
    /// Reactions, in the order each emoji was first added.
    pub reactions: Vec<RecordedReaction>,
    /// The nonce, for bot messages.
    pub nonce: Option<String>,
    /// The referenced message, for replies (the bot's, or a human's through `post_with`).
    pub reference: Option<u64>,
    /// Whether it was deleted since.
    pub deleted: bool,
    /// When it was last edited (`None`: never).
    pub edited: Option<chrono::DateTime<chrono::Utc>>,
}

/// The bot user.
#[derive(Clone, Debug)]
pub(crate) struct Bot {
    pub(crate) id: u64,
    pub(crate) name: String,
}

/// Discord's limit on distinct emoji per message.
pub(crate) const MAX_DISTINCT_REACTIONS: usize = 20;

impl RecordedMessage {
    /// Adds `user`'s reaction with `emoji`: `Ok(true)` if new, `Ok(false)` if they had already
    /// reacted so (Discord changes nothing), `Err(())` if it would be a 21st distinct emoji.
    pub(crate) fn add_reaction(&mut self, emoji: &str, user: u64) -> Result<bool, ()> {
        let distinct = self.reactions.len();
        match self.reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) if r.users.contains(&user) => Ok(false),
            Some(r) => {
                r.users.push(user);
                Ok(true)
            }
            None if distinct >= MAX_DISTINCT_REACTIONS => Err(()),
            None => {
                self.reactions.push(RecordedReaction {
                    emoji: emoji.to_owned(),
                    users: vec![user],
                });
                Ok(true)
            }
        }
    }

    /// Removes `user`'s reaction with `emoji`; whether they had one.
    pub(crate) fn remove_reaction(&mut self, emoji: &str, user: u64) -> bool {
        let Some(i) = self.reactions.iter().position(|r| r.emoji == emoji) else {
            return false;
        };
        let before = self.reactions[i].users.len();
        self.reactions[i].users.retain(|u| *u != user);
        let removed = self.reactions[i].users.len() < before;
        if self.reactions[i].users.is_empty() {
            self.reactions.remove(i);
        }
        removed
    }
}

/// A person of the guild that tests act as (posting, editing, reacting by hand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Human {
    /// Their user ID.
    pub id: u64,
    /// Their user name.
    pub name: String,
}

/// Everything the stand-in stores.
#[derive(Debug)]
pub(crate) struct World {
    seq: u64,
    pub(crate) bot: Bot,
    pub(crate) guild_id: u64,
    pub(crate) channels: BTreeMap<u64, ChannelInfo>,
    pub(crate) webhooks: BTreeMap<u64, WebhookInfo>,
    /// Every accepted message, in acceptance order.
    pub(crate) messages: Vec<RecordedMessage>,
    /// Message ID → index in `messages`.
    pub(crate) by_id: HashMap<u64, usize>,
    /// (channel, nonce) → message ID, for `enforce_nonce`.
    pub(crate) nonces: HashMap<(u64, String), u64>,
    /// Owner, roles, the bot's roles, and a guild the bot is not in.
    pub(crate) setup: GuildSetup,
    /// The people tests act as, by ID.
    pub(crate) humans: BTreeMap<u64, Human>,
}

impl World {
    pub(crate) fn new() -> Self {
        let mut w = Self {
            seq: 0,
            bot: Bot {
                id: 0,
                name: "kbbridge-standin-bot".into(),
            },
            guild_id: 0,
            channels: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            messages: Vec::new(),
            by_id: HashMap::new(),
            nonces: HashMap::new(),
            setup: GuildSetup::new(0, 0, 0, 0),
            humans: BTreeMap::new(),
        };
        w.bot.id = w.snowflake();
        w.guild_id = w.snowflake();
        let (owner, bot_role, other) = (w.snowflake(), w.snowflake(), w.snowflake());
        w.setup = GuildSetup::new(w.guild_id, owner, bot_role, other);
        w
    }

    /// A new snowflake: creation time in the top bits, a counter in the low 22.
    pub(crate) fn snowflake(&mut self) -> u64 {
        self.seq += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        (now.saturating_sub(DISCORD_EPOCH_MS) << 22) | (self.seq & 0x3F_FFFF)
    }

    /// Adds a message and returns its index.
    pub(crate) fn push(&mut self, msg: RecordedMessage) -> usize {
        let i = self.messages.len();
        self.by_id.insert(msg.id, i);
        self.messages.push(msg);
        i
    }

    /// The live (not deleted) message `id`, whatever its channel.
    pub(crate) fn live_mut(&mut self, id: u64) -> Option<&mut RecordedMessage> {
        let i = *self.by_id.get(&id)?;
        self.messages.get_mut(i).filter(|m| !m.deleted)
    }

    /// The newest live message of `channel` (a channel's `last_message_id`).
    pub(crate) fn last_message_id(&self, channel: u64) -> Option<u64> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.channel_id == channel && !m.deleted)
            .map(|m| m.id)
    }

    /// The live (not deleted) message `id` in `channel`.
    pub(crate) fn message_mut(&mut self, channel: u64, id: u64) -> Option<&mut RecordedMessage> {
        let i = *self.by_id.get(&id)?;
        let m = self.messages.get_mut(i)?;
        (m.channel_id == channel && !m.deleted).then_some(m)
    }
}

/// Discord's rules for text channel names: lowercase, spaces to dashes, 1 to 100 characters
/// of letters, digits, `-` and `_`.
pub(crate) fn normalize_text_channel_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('-').chars().take(100).collect()
}
