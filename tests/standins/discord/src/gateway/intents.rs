//! Gateway intents (the bits a session asks for in IDENTIFY) and the privileged ones an
//! application must have switched on in the Developer Portal, with the application flags that
//! say so in READY.

/// Guild, channel and role events (GUILD_CREATE is sent whatever the intents: see STANDIN.md).
pub const GUILDS: u64 = 1;
/// Member events; privileged.
pub const GUILD_MEMBERS: u64 = 1 << 1;
/// Presence updates; privileged.
pub const GUILD_PRESENCES: u64 = 1 << 8;
/// MESSAGE_CREATE, MESSAGE_UPDATE, MESSAGE_DELETE and MESSAGE_DELETE_BULK in guild channels.
pub const GUILD_MESSAGES: u64 = 1 << 9;
/// MESSAGE_REACTION_ADD and MESSAGE_REACTION_REMOVE in guild channels.
pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
/// Message content, embeds and attachments in the events above; privileged.
pub const MESSAGE_CONTENT: u64 = 1 << 15;
/// Every privileged intent.
pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;

/// Every intent Discord defines (bits 0–16, 20, 21, 24, 25); anything else is refused with
/// close code 4013.
pub(crate) const KNOWN: u64 = 0x1_FFFF | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);

/// The application flags READY reports for the privileged intents switched on
/// (GATEWAY_PRESENCE 1<<12, GATEWAY_GUILD_MEMBERS 1<<14, GATEWAY_MESSAGE_CONTENT 1<<18).
pub(crate) fn application_flags(privileged: u64) -> u64 {
    [
        (GUILD_PRESENCES, 1 << 12),
        (GUILD_MEMBERS, 1 << 14),
        (MESSAGE_CONTENT, 1 << 18),
    ]
    .iter()
    .filter(|(intent, _)| privileged & intent != 0)
    .fold(0, |flags, (_, flag)| flags | flag)
}
