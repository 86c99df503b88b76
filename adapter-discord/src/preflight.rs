//! The pre-flight check (`kbbridge check`): whether backfill into Discord would start, asked
//! of Discord itself, "auto" targets included, without creating or changing anything.
//!
//! In order: the token (`GET /users/@me`), the guild (`GET /guilds/{g}`: the bot is in it),
//! the bot's permissions there, computed as Discord does from `@everyone`, its roles
//! (`GET /guilds/{g}/roles`, `GET /guilds/{g}/members/{bot}`), administrator and ownership,
//! and each named channel (in the guild, a text channel, and the bot's permissions in it
//! after the channel's overwrites). Every problem is reported, each with what to do.

use std::sync::Arc;

use bridge_core::{
    ChatId,
    preflight::{Report, Verdict},
};
use serde::Deserialize;
use serenity::{
    http::{LightMethod, Request, Route},
    model::{
        Permissions,
        id::{GuildId, UserId},
    },
};

use crate::{
    channels,
    client::{Rest, Transport},
    config::{DiscordConfig, ReactionStyle},
    error::DiscordError,
    limiter::{Limiter, LimiterOptions},
    permissions::{base_permissions, channel_permissions},
};

/// What every backfill needs in each channel it writes to.
pub(crate) const IN_CHANNEL: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::READ_MESSAGE_HISTORY)
    .union(Permissions::ATTACH_FILES)
    .union(Permissions::MANAGE_WEBHOOKS);

/// Asks Discord whether a backfill with `config` would start: the token, the guild, the
/// bot's permissions there (with Manage Channels when `auto_links`, the number of links whose
/// target is "auto", is not 0; and room for their channels), and each of `named`'s channels,
/// given as (link name, channel ID); with `relays` (a link relays live), whether the bot's
/// application has the Message Content intent. Discord is reached as `config` says
/// (`connect_to`, `ca_file` included).
///
/// Never fails: whatever goes wrong is a finding of the report.
pub async fn preflight(
    config: &DiscordConfig,
    named: &[(String, ChatId)],
    auto_links: usize,
    relays: bool,
) -> Report {
    let mut report = Report::default();
    let transport = match Transport::new(config) {
        Ok(transport) => transport,
        Err(e) => {
            report.add("ca_file", Verdict::Problem, e.to_string());
            return report;
        }
    };
    let limiter = Arc::new(Limiter::new(LimiterOptions::default()));
    let rest = match Rest::new(&config.token, config.api_base.as_ref(), &transport, limiter) {
        Ok(rest) => rest,
        Err(e) => {
            report.add("token", Verdict::Problem, e.to_string());
            return report;
        }
    };
    let needed = needed(config, auto_links > 0);
    let Some(bot) = check_token(&rest, &mut report).await else {
        return report;
    };
    if relays {
        crate::application::check_message_content(&rest, &mut report).await;
    }
    let guild = config.guild_id.get();
    let base = check_guild(&rest, &mut report, guild, &bot, needed).await;
    if base.is_some() && auto_links > 0 {
        check_room_for_channels(&rest, &mut report, guild, auto_links).await;
    }
    for (link, chat) in named {
        match &base {
            Some(member) => {
                check_channel(&rest, &mut report, guild, &bot, member, link, chat).await
            }
            None => report.add_for_link(
                link,
                "channel",
                Verdict::Note,
                format!("discord:{chat} not checked: the server is not reachable (above)"),
            ),
        }
    }
    report
}

/// The permissions a backfill needs in the guild.
fn needed(config: &DiscordConfig, creates_channels: bool) -> Permissions {
    let mut needed = IN_CHANNEL;
    if creates_channels {
        needed |= Permissions::MANAGE_CHANNELS;
    }
    if config.reactions == ReactionStyle::Bot {
        needed |= Permissions::ADD_REACTIONS;
    }
    needed
}

#[derive(Debug, Deserialize)]
struct BotUser {
    id: UserId,
    username: String,
}

#[derive(Debug, Deserialize)]
struct GuildWire {
    name: String,
    owner_id: UserId,
}

#[derive(Debug, Deserialize)]
struct RoleWire {
    id: String,
    permissions: String,
}

#[derive(Debug, Deserialize)]
struct MemberWire {
    roles: Vec<String>,
}

/// The bot's standing in the guild: its roles and its guild-wide permissions.
struct Member {
    roles: Vec<u64>,
    base: Permissions,
}

/// `GET /users/@me`: the token is valid, and whose it is.
async fn check_token(rest: &Rest, report: &mut Report) -> Option<BotUser> {
    let req = Request::new(Route::UserMe, LightMethod::Get);
    match rest.json::<BotUser>("read the bot user", req).await {
        Ok(bot) => {
            report.add(
                "token",
                Verdict::Ok,
                format!("the bot token is valid (bot {} {})", bot.username, bot.id),
            );
            Some(bot)
        }
        Err(DiscordError::Api { status: 401, .. }) => {
            report.add(
                "token",
                Verdict::Problem,
                "the bot token is wrong: Discord answered 401 Unauthorized; set \
                 KBBRIDGE__DISCORD__TOKEN to the bot's token (Developer Portal → your \
                 application → Bot → Reset Token)",
            );
            None
        }
        Err(e @ DiscordError::Connection { .. }) => {
            report.add(
                "token",
                Verdict::Problem,
                format!(
                    "cannot reach Discord: {}; check the network (or discord.api_base)",
                    with_causes(&e)
                ),
            );
            None
        }
        Err(e) => {
            report.add(
                "token",
                Verdict::Problem,
                format!("cannot check the bot token: {}", with_causes(&e)),
            );
            None
        }
    }
}

/// An error and its causes, each once: a transport error keeps "connection refused" in a
/// source.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    bridge_core::Report::new(e).to_string()
}

/// The URL that invites the bot into a guild with `needed`.
fn invite_url(bot: &BotUser, needed: Permissions) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={}&scope=bot&permissions={}",
        bot.id,
        needed.bits()
    )
}

/// `GET /guilds/{g}`, its roles and the bot's membership: the guild is reachable and the
/// bot's permissions there cover `needed`. Returns the bot's standing when the guild could be
/// read.
async fn check_guild(
    rest: &Rest,
    report: &mut Report,
    guild: u64,
    bot: &BotUser,
    needed: Permissions,
) -> Option<Member> {
    let guild_id = GuildId::new(guild);
    let not_in = |e: &DiscordError| {
        format!(
            "the bot is not in server {guild} ({}): invite it with {}, or fix discord.guild_id",
            with_causes(e),
            invite_url(bot, needed)
        )
    };
    // 403 and 404 both mean the bot is not (or no longer) in the server.
    let problem = |e: DiscordError, what: &str| match e {
        DiscordError::Api {
            status: 403 | 404, ..
        } => not_in(&e),
        e => format!("cannot {what}: {}", with_causes(&e)),
    };
    let read = Request::new(Route::Guild { guild_id }, LightMethod::Get);
    let info = match rest.json::<GuildWire>("read the server", read).await {
        Ok(info) => info,
        Err(e) => {
            let text = problem(e, &format!("read server {guild}"));
            report.add("guild", Verdict::Problem, text);
            return None;
        }
    };
    let member = Request::new(
        Route::GuildMember {
            guild_id,
            user_id: bot.id,
        },
        LightMethod::Get,
    );
    let member = match rest
        .json::<MemberWire>("read the bot's membership", member)
        .await
    {
        Ok(m) => m,
        Err(e) => {
            let text = problem(e, "read the bot's membership");
            report.add("guild", Verdict::Problem, text);
            return None;
        }
    };
    report.add(
        "guild",
        Verdict::Ok,
        format!("the bot is in server {:?} ({guild})", info.name),
    );
    let roles = Request::new(Route::GuildRoles { guild_id }, LightMethod::Get);
    let roles = match rest
        .json::<Vec<RoleWire>>("read the server's roles", roles)
        .await
    {
        Ok(roles) => roles,
        Err(e) => {
            report.add(
                "permissions",
                Verdict::Problem,
                format!(
                    "cannot read the server's roles to work out the bot's permissions: {}",
                    with_causes(&e)
                ),
            );
            return None;
        }
    };
    let roles: Vec<(u64, Permissions)> = roles
        .iter()
        .filter_map(|r| Some((r.id.parse().ok()?, parse_permissions(&r.permissions))))
        .collect();
    let member_roles: Vec<u64> = member.roles.iter().filter_map(|r| r.parse().ok()).collect();
    let base = base_permissions(
        guild,
        info.owner_id.get(),
        bot.id.get(),
        &roles,
        &member_roles,
    );
    let missing = needed - base;
    if missing.is_empty() {
        let how = if info.owner_id == bot.id {
            " (it owns the server)"
        } else if base.administrator() {
            " (it is an administrator)"
        } else {
            ""
        };
        report.add(
            "permissions",
            Verdict::Ok,
            format!(
                "the bot has what backfill needs in the server{how}: {}",
                needed.get_permission_names().join(", ")
            ),
        );
    } else {
        report.add(
            "permissions",
            Verdict::Problem,
            format!(
                "the bot lacks {} in server {:?}: give its role these permissions (Server \
                 Settings → Roles), or invite it again with {}",
                missing.get_permission_names().join(", "),
                info.name,
                invite_url(bot, needed)
            ),
        );
    }
    Some(Member {
        roles: member_roles,
        base,
    })
}

/// The most channels (categories included) a guild may have.
const MAX_GUILD_CHANNELS: usize = 500;

/// Whether the guild has room for the channels of `auto_links` links. Without the store it
/// cannot tell which were made by an earlier run, so a shortage is a note, not a problem.
async fn check_room_for_channels(rest: &Rest, report: &mut Report, guild: u64, auto_links: usize) {
    let guild_id = GuildId::new(guild);
    let req = Request::new(Route::GuildChannels { guild_id }, LightMethod::Get);
    match rest
        .json::<Vec<serde_json::Value>>("list channels", req)
        .await
    {
        Ok(list) if list.len() + auto_links <= MAX_GUILD_CHANNELS => {}
        Ok(list) => report.add(
            "channels",
            Verdict::Note,
            format!(
                "the server has {} of the {MAX_GUILD_CHANNELS} channels Discord allows; the \
                {auto_links} \"auto\" link(s) may need up to {auto_links} more and their \
                categories (fewer if an earlier run made them): make room, or map some links \
                to existing channels",
                list.len()
            ),
        ),
        Err(e) => report.add(
            "channels",
            Verdict::Note,
            format!("cannot count the server's channels: {}", with_causes(&e)),
        ),
    }
}

/// A named channel: in the guild, a text channel, and the bot's permissions in it.
async fn check_channel(
    rest: &Rest,
    report: &mut Report,
    guild: u64,
    bot: &BotUser,
    member: &Member,
    link: &str,
    chat: &ChatId,
) {
    let problem = |report: &mut Report, text: String| {
        report.add_for_link(link, "channel", Verdict::Problem, text);
    };
    let id = match channels::channel_id(chat) {
        Ok(id) => id,
        Err(e) => return problem(report, e.to_string()),
    };
    let channel = match channels::check(rest, guild, id).await {
        Ok(c) => c,
        Err(DiscordError::Api { status: 404, .. }) => {
            return problem(
                report,
                format!(
                    "discord:{id}: no such channel (Discord: Unknown Channel); check the link's \
                     `discord` channel ID (Discord: right-click the channel → Copy Channel ID)"
                ),
            );
        }
        Err(e @ DiscordError::Api { status: 403, .. }) => {
            return problem(
                report,
                format!(
                    "discord:{id}: the bot cannot see this channel ({})",
                    with_causes(&e)
                ),
            );
        }
        Err(e) => return problem(report, format!("discord:{id}: {}", with_causes(&e))),
    };
    let here = channel_permissions(
        member.base,
        guild,
        bot.id.get(),
        &member.roles,
        &channel.permission_overwrites,
    );
    let missing = IN_CHANNEL - here;
    if missing.is_empty() {
        report.add_for_link(
            link,
            "channel",
            Verdict::Ok,
            format!("discord:{id} is reachable (#{})", channel.name),
        );
    } else {
        problem(
            report,
            format!(
                "discord:{id} (#{}): the bot lacks {} in this channel: allow them for its role \
                 in the channel's permissions (Edit Channel → Permissions)",
                channel.name,
                missing.get_permission_names().join(", ")
            ),
        );
    }
}

/// Permission bits as Discord sends them (a decimal string); unknown bits are kept.
fn parse_permissions(s: &str) -> Permissions {
    Permissions::from_bits_retain(s.parse().unwrap_or(0))
}
