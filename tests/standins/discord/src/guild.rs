//! The guild's owner, roles and the bot's membership, for the permission checks clients make
//! (`kbbridge check`), and a second guild the bot is not in.
//!
//! Defaults: `@everyone` (the role whose ID is the guild's) has [`EVERYONE_DEFAULT`], the bot
//! has one managed role with [`BOT_DEFAULT`] (what kbbridge's invite asks for), and the owner
//! is a person, not the bot. Tests change any of it through `StandIn`'s methods.

use std::collections::BTreeMap;

/// VIEW_CHANNEL.
const VIEW_CHANNEL: u64 = 1 << 10;
/// MANAGE_CHANNELS.
const MANAGE_CHANNELS: u64 = 1 << 4;
/// MANAGE_WEBHOOKS.
const MANAGE_WEBHOOKS: u64 = 1 << 29;
/// SEND_MESSAGES.
const SEND_MESSAGES: u64 = 1 << 11;
/// ATTACH_FILES.
const ATTACH_FILES: u64 = 1 << 15;
/// READ_MESSAGE_HISTORY.
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

/// `@everyone`'s permissions in a new guild (the usual member permissions: create invite,
/// add reactions, view, send, embed links, attach files, read history, external emoji,
/// connect, speak, change nickname).
pub const EVERYONE_DEFAULT: u64 = 1
    | (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 18)
    | (1 << 20)
    | (1 << 21)
    | (1 << 26);
/// The bot's role: what kbbridge asks for when invited (manage channels, add reactions, view,
/// send, embed links, attach files, read history, manage webhooks).
pub const BOT_DEFAULT: u64 = MANAGE_CHANNELS
    | (1 << 6)
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | (1 << 14)
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MANAGE_WEBHOOKS;

/// A role of the guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInfo {
    /// Its snowflake (`@everyone`'s is the guild's).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its permission bits.
    pub permissions: u64,
    /// Its position (0: `@everyone`).
    pub position: u32,
    /// Whether it belongs to an integration (the bot's own role).
    pub managed: bool,
}

/// Who owns the guild, its roles, the bot's roles, and the guild the bot is not in.
#[derive(Debug)]
pub(crate) struct GuildSetup {
    pub(crate) name: String,
    pub(crate) owner_id: u64,
    pub(crate) roles: BTreeMap<u64, RoleInfo>,
    pub(crate) bot_roles: Vec<u64>,
    /// A guild that exists but the bot is not in: reading it answers 403, code 50001.
    pub(crate) other_guild: u64,
}

impl GuildSetup {
    /// The defaults, for guild `guild` with the given fresh snowflakes.
    pub(crate) fn new(guild: u64, owner_id: u64, bot_role: u64, other_guild: u64) -> Self {
        let everyone = RoleInfo {
            id: guild,
            name: "@everyone".to_owned(),
            permissions: EVERYONE_DEFAULT,
            position: 0,
            managed: false,
        };
        let bot = RoleInfo {
            id: bot_role,
            name: "kbbridge".to_owned(),
            permissions: BOT_DEFAULT,
            position: 1,
            managed: true,
        };
        Self {
            name: "kbbridge stand-in".to_owned(),
            owner_id,
            roles: BTreeMap::from([(guild, everyone), (bot_role, bot)]),
            bot_roles: vec![bot_role],
            other_guild,
        }
    }
}
