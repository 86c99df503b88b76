//! The JSON the stand-in answers with: the fields serenity 0.12.5 needs to decode each object,
//! and Discord's error bodies.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::state::{Bot, ChannelInfo, RecordedMessage, WebhookInfo};

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

/// An ISO 8601 timestamp from a snowflake's creation time.
fn timestamp(id: u64) -> String {
    let ms = (id >> 22) + 1_420_070_400_000;
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

pub(crate) fn user(bot: &Bot) -> Value {
    json!({ "id": bot.id.to_string(), "username": bot.name, "discriminator": "0",
        "global_name": null, "avatar": null, "bot": true })
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

pub(crate) fn message(bot: &Bot, files_base: &str, m: &RecordedMessage) -> Value {
    let author = match m.webhook_id {
        Some(w) => json!({ "id": w.to_string(), "username": m.author_name,
            "discriminator": "0000", "avatar": null, "bot": true }),
        None => user(bot),
    };
    let attachments: Vec<Value> = m
        .files
        .iter()
        .map(|f| {
            let url = format!(
                "{files_base}/attachments/{}/{}/{}",
                m.channel_id, f.id, f.name
            );
            json!({ "id": f.id.to_string(), "filename": f.name, "size": f.bytes.len(),
                "url": url, "proxy_url": url })
        })
        .collect();
    let reactions: Vec<Value> = m
        .reactions
        .iter()
        .map(|(e, n)| {
            json!({ "count": n, "me": true, "emoji": { "id": null, "name": e },
            "count_details": { "burst": 0, "normal": n }, "me_burst": false,
            "burst_colors": [] })
        })
        .collect();
    json!({
        "id": m.id.to_string(), "channel_id": m.channel_id.to_string(), "author": author,
        "content": m.content, "timestamp": timestamp(m.id),
        "edited_timestamp": if m.edited { Value::String(timestamp(m.id)) } else { Value::Null },
        "tts": false, "mention_everyone": m.pinged.iter().any(|p| p == "everyone"),
        "mentions": [], "mention_roles": [], "attachments": attachments, "embeds": [],
        "reactions": reactions, "pinned": false, "type": 0, "flags": m.flags,
        "webhook_id": m.webhook_id.map(|w| w.to_string()),
        "nonce": m.nonce,
        "message_reference": m.reference.map(|r| json!({ "message_id": r.to_string(),
            "channel_id": m.channel_id.to_string() })),
    })
}
