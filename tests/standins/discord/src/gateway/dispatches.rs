//! The events' payloads, built from the world as it is when they happen: READY and
//! GUILD_CREATE for a new session, and the message and reaction events the REST routes and the
//! test hooks publish.

use serde_json::{Value, json};

use super::intents::{GUILD_MESSAGE_REACTIONS, GUILD_MESSAGES};
use crate::{
    state::{RecordedMessage, World},
    wire,
};

/// An event for every session that asked for its intent.
#[derive(Clone, Debug)]
pub(crate) struct Dispatch {
    /// Its name (`t`).
    pub(crate) name: &'static str,
    /// Its payload (`d`).
    pub(crate) data: Value,
    /// The channel it is about (what a test may hold back: see `hooks.rs`).
    pub(crate) channel: u64,
    /// The intent a session needs to receive it.
    pub(crate) intent: u64,
    /// Whether its message content is withheld from sessions without MESSAGE_CONTENT: not
    /// for the bot's own messages nor for messages that mention the bot, as Discord does.
    pub(crate) gated: bool,
}

impl Dispatch {
    /// The payload a session without MESSAGE_CONTENT gets: content, embeds, attachments and
    /// components emptied.
    pub(crate) fn blanked(&self) -> Value {
        let mut d = self.data.clone();
        d["content"] = json!("");
        d["embeds"] = json!([]);
        d["attachments"] = json!([]);
        d["components"] = json!([]);
        d
    }
}

/// READY: the bot user, the guild (unavailable until its GUILD_CREATE), the session and the
/// application with the flags of its privileged intents.
pub(crate) fn ready(
    w: &World,
    session_id: &str,
    resume_url: &str,
    shard: Option<(u32, u32)>,
    application_flags: u64,
) -> Value {
    let mut d = json!({
        "v": 10, "user": wire::user(&w.bot),
        "guilds": [{ "id": w.guild_id.to_string(), "unavailable": true }],
        "session_id": session_id, "session_type": "normal", "resume_gateway_url": resume_url,
        // Discord's bot applications take the bot user's ID.
        "application": { "id": w.bot.id.to_string(), "flags": application_flags },
        "user_settings": {}, "private_channels": [], "relationships": [], "presences": [],
        "guild_join_requests": [], "geo_ordered_rtc_regions": [],
    });
    if let Some((id, total)) = shard {
        d["shard"] = json!([id, total]);
    }
    d
}

/// GUILD_CREATE: the guild object with its channels (each with `last_message_id`), the bot's
/// own member (Discord sends the others only with GUILD_MEMBERS) and the empty lists of the
/// rest.
pub(crate) fn guild_create(w: &World) -> Value {
    let mut d = wire::guild(w);
    let channels: Vec<Value> = w
        .channels
        .values()
        .map(|c| {
            let mut ch = wire::channel(w.guild_id, c);
            ch["last_message_id"] = json!(w.last_message_id(c.id).map(|m| m.to_string()));
            ch
        })
        .collect();
    let extra = json!({
        "joined_at": "2026-01-01T00:00:00.000000+00:00", "large": false, "unavailable": false,
        "member_count": 2 + w.humans.len(), "voice_states": [],
        "members": [wire::member_of(w, w.bot.id, true)], "channels": channels, "threads": [],
        "presences": [], "stage_instances": [], "guild_scheduled_events": [],
        "soundboard_sounds": [],
    });
    if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
        d.extend(extra);
    }
    d
}

/// A message as MESSAGE_CREATE and MESSAGE_UPDATE carry it: the message object with
/// `guild_id`, and `member` unless a webhook posted it.
fn message_event(name: &'static str, w: &World, files_base: &str, m: &RecordedMessage) -> Dispatch {
    let mut d = wire::message(w, files_base, m);
    d["guild_id"] = json!(w.guild_id.to_string());
    if m.webhook_id.is_none() {
        d["member"] = wire::member_of(w, m.author_id, false);
    }
    let gated = m.author_id != w.bot.id && !wire::mentioned(w, &m.content).contains(&w.bot.id);
    Dispatch {
        name,
        data: d,
        channel: m.channel_id,
        intent: GUILD_MESSAGES,
        gated,
    }
}

/// MESSAGE_CREATE (webhook messages carry `webhook_id`).
pub(crate) fn message_create(w: &World, files_base: &str, m: &RecordedMessage) -> Dispatch {
    message_event("MESSAGE_CREATE", w, files_base, m)
}

/// MESSAGE_UPDATE: the whole message after the edit, with its new `edited_timestamp`.
pub(crate) fn message_update(w: &World, files_base: &str, m: &RecordedMessage) -> Dispatch {
    message_event("MESSAGE_UPDATE", w, files_base, m)
}

/// MESSAGE_DELETE.
pub(crate) fn message_delete(w: &World, channel: u64, id: u64) -> Dispatch {
    Dispatch {
        name: "MESSAGE_DELETE",
        data: json!({ "id": id.to_string(), "channel_id": channel.to_string(),
            "guild_id": w.guild_id.to_string() }),
        channel,
        intent: GUILD_MESSAGES,
        gated: false,
    }
}

/// MESSAGE_DELETE_BULK.
pub(crate) fn message_delete_bulk(w: &World, channel: u64, ids: &[u64]) -> Dispatch {
    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
    Dispatch {
        name: "MESSAGE_DELETE_BULK",
        data: json!({ "ids": ids, "channel_id": channel.to_string(),
            "guild_id": w.guild_id.to_string() }),
        channel,
        intent: GUILD_MESSAGES,
        gated: false,
    }
}

/// MESSAGE_REACTION_ADD (with the reacting member and the message's author) or
/// MESSAGE_REACTION_REMOVE (without them), for `user`'s `emoji` on `m`.
pub(crate) fn reaction(
    w: &World,
    m: &RecordedMessage,
    emoji: &str,
    user: u64,
    added: bool,
) -> Dispatch {
    let mut d = json!({
        "user_id": user.to_string(), "channel_id": m.channel_id.to_string(),
        "message_id": m.id.to_string(), "guild_id": w.guild_id.to_string(),
        "emoji": wire::emoji(emoji), "burst": false, "type": 0,
    });
    if added {
        d["member"] = wire::member_of(w, user, true);
        d["message_author_id"] = json!(m.author_id.to_string());
        d["burst_colors"] = json!([]);
    }
    Dispatch {
        name: if added {
            "MESSAGE_REACTION_ADD"
        } else {
            "MESSAGE_REACTION_REMOVE"
        },
        data: d,
        channel: m.channel_id,
        intent: GUILD_MESSAGE_REACTIONS,
        gated: false,
    }
}
