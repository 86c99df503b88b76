//! The JSON the stand-in answers with: the fields serenity 0.12.5 needs to decode each object,
//! and Discord's error bodies.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    filenames::discord_file_name,
    guild::RoleInfo,
    state::{Bot, ChannelInfo, Human, RecordedMessage, WebhookInfo, World},
};

/// A Discord error: `{code, message[, errors]}` with `status`.
pub(crate) fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// A 400 "Invalid Form Body" (50035) naming the field and the rule broken.
pub(crate) fn invalid_form(field: &str, rule: &str, message: &str) -> Response {
    let body = json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": { field: { "_errors": [{ "code": rule, "message": message }] } },
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// The HTML page Cloudflare serves once the invalid-request budget is spent.
pub(crate) fn banned(retry_after_secs: u64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        "<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to \
         restrict access</title></head><body><h1>Error 1015</h1><p>error code: 1015</p>\
         <p>You are being rate limited.</p></body></html>",
    )
        .into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An ISO 8601 timestamp as Discord writes them.
pub(crate) fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// An ISO 8601 timestamp from a snowflake's creation time.
pub(crate) fn timestamp(id: u64) -> String {
    let ms = (id >> 22) + 1_420_070_400_000;
    iso(chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default())
}

pub(crate) fn user(bot: &Bot) -> Value {
    json!({ "id": bot.id.to_string(), "username": bot.name, "discriminator": "0",
        "global_name": null, "avatar": null, "bot": true })
}

/// A person's user object.
pub(crate) fn human(h: &Human) -> Value {
    json!({ "id": h.id.to_string(), "username": h.name, "discriminator": "0",
        "global_name": h.name, "avatar": null })
}

/// The user object of a message's author: its webhook (named as posted), the bot or a human.
pub(crate) fn author(w: &World, m: &RecordedMessage) -> Value {
    match (m.webhook_id, w.humans.get(&m.author_id)) {
        (Some(id), _) => json!({ "id": id.to_string(), "username": m.author_name,
            "discriminator": "0000", "avatar": null, "bot": true }),
        (None, Some(h)) => human(h),
        (None, None) => user(&w.bot),
    }
}

pub(crate) fn channel(guild_id: u64, c: &ChannelInfo) -> Value {
    let overwrites = if c.private {
        json!([{ "id": guild_id.to_string(), "type": 0, "allow": "0", "deny": "1024" }])
    } else {
        json!([])
    };
    json!({
        "id": c.id.to_string(), "type": c.kind, "guild_id": guild_id.to_string(),
        "name": c.name, "topic": c.topic, "position": 0, "nsfw": false,
        "parent_id": c.parent_id.map(|p| p.to_string()), "permission_overwrites": overwrites,
        "rate_limit_per_user": 0, "last_message_id": null,
    })
}

pub(crate) fn webhook(guild_id: u64, bot: &Bot, w: &WebhookInfo) -> Value {
    json!({
        "id": w.id.to_string(), "type": 1, "guild_id": guild_id.to_string(),
        "channel_id": w.channel_id.to_string(), "name": w.name, "avatar": null,
        "token": w.token, "application_id": null, "user": user(bot),
    })
}

pub(crate) fn message(w: &World, files_base: &str, m: &RecordedMessage) -> Value {
    let attachments: Vec<Value> = m
        .files
        .iter()
        .map(|f| {
            // The URL names the file as Discord keeps it, whatever `filename` says (a name
            // kept as given may hold `/` or be empty).
            let url = format!(
                "{files_base}/attachments/{}/{}/{}",
                m.channel_id,
                f.id,
                discord_file_name(&f.name)
            );
            let mut a = json!({ "id": f.id.to_string(), "filename": f.name,
                "size": f.bytes.len(), "url": url, "proxy_url": url });
            if let Some(t) = content_type(&f.name) {
                a["content_type"] = json!(t);
            }
            a
        })
        .collect();
    let reactions: Vec<Value> = m
        .reactions
        .iter()
        .map(|r| {
            let n = r.users.len();
            json!({ "count": n, "me": r.users.contains(&w.bot.id), "emoji": emoji(&r.emoji),
            "count_details": { "burst": 0, "normal": n }, "me_burst": false,
            "burst_colors": [] })
        })
        .collect();
    json!({
        "id": m.id.to_string(), "channel_id": m.channel_id.to_string(),
        "author": author(w, m), "content": m.content, "timestamp": timestamp(m.id),
        "edited_timestamp": m.edited.map(iso),
        "tts": false, "mention_everyone": m.pinged.iter().any(|p| p == "everyone"),
        "mentions": mentions(w, &m.content), "mention_roles": [], "attachments": attachments, "embeds": [],
        "reactions": reactions, "pinned": false,
        // A reply is its own type (19, REPLY); serenity relays both.
        "type": if m.reference.is_some() { 19 } else { 0 }, "flags": m.flags,
        "webhook_id": m.webhook_id.map(|w| w.to_string()),
        "nonce": m.nonce,
        "message_reference": m.reference.map(|r| json!({ "type": 0, "message_id": r.to_string(),
            "channel_id": m.channel_id.to_string(), "guild_id": w.guild_id.to_string() })),
    })
}

/// The media type Discord gives a file by its extension, for the common kinds; `None` for
/// others (Discord then leaves `content_type` out).
fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// An emoji object from the form reactions are recorded in: a Unicode emoji, or `name:id`.
pub(crate) fn emoji(e: &str) -> Value {
    match e.rsplit_once(':') {
        Some((name, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            json!({ "id": id, "name": name, "animated": false })
        }
        _ => json!({ "id": null, "name": e }),
    }
}

/// The users (the bot, humans) a content mentions as `<@ID>` or `<@!ID>`, once each.
pub(crate) fn mentioned(w: &World, content: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let body = rest.strip_prefix('!').unwrap_or(rest);
        let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
        if !body[digits.len()..].starts_with('>') {
            continue;
        }
        if let Ok(id) = digits.parse::<u64>() {
            if (id == w.bot.id || w.humans.contains_key(&id)) && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The user objects of [`mentioned`].
fn mentions(w: &World, content: &str) -> Vec<Value> {
    mentioned(w, content)
        .into_iter()
        .map(|id| w.humans.get(&id).map_or_else(|| user(&w.bot), human))
        .collect()
}

/// A guild member: with its `user` (member routes, reaction events) or without (the partial
/// member of message events).
pub(crate) fn member(user: Option<Value>, roles: &[u64]) -> Value {
    let roles: Vec<String> = roles.iter().map(u64::to_string).collect();
    let mut m = json!({
        "nick": null, "avatar": null, "roles": roles,
        "joined_at": "2026-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
    });
    if let Some(u) = user {
        m["user"] = u;
    }
    m
}

/// The member behind a user ID: the bot (with its roles) or a human (no roles).
pub(crate) fn member_of(w: &World, id: u64, with_user: bool) -> Value {
    match w.humans.get(&id) {
        Some(h) => member(with_user.then(|| human(h)), &[]),
        None => member(with_user.then(|| user(&w.bot)), &w.setup.bot_roles),
    }
}

pub(crate) fn role(r: &RoleInfo) -> Value {
    json!({
        "id": r.id.to_string(), "name": r.name, "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false, "icon": null,
        "unicode_emoji": null, "position": r.position, "permissions": r.permissions.to_string(),
        "managed": r.managed, "mentionable": false, "flags": 0,
    })
}

pub(crate) fn roles(w: &World) -> Vec<Value> {
    w.setup.roles.values().map(role).collect()
}

/// The guild object (`GET /guilds/{g}`; GUILD_CREATE adds its own fields to it).
pub(crate) fn guild(w: &World) -> Value {
    json!({
        "id": w.guild_id.to_string(), "name": w.setup.name, "icon": null, "splash": null,
        "discovery_splash": null, "owner_id": w.setup.owner_id.to_string(),
        "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 1, "explicit_content_filter": 0,
        "roles": roles(w), "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
        "application_id": null, "system_channel_id": null, "system_channel_flags": 0,
        "rules_channel_id": null, "vanity_url_code": null, "description": null,
        "banner": null, "premium_tier": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": null, "nsfw_level": 0, "premium_progress_bar_enabled": false,
    })
}
