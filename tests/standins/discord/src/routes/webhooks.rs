//! Channel webhooks: listed and created under their channel, executed with their token, and
//! the messages they posted edited or deleted.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Params, bad_json, message_json,
    payload::{accept, check_content, read_body},
    unknown_channel, unknown_message,
};
use crate::{
    Shared,
    gateway::dispatches,
    state::{TEXT, WebhookInfo, World},
    wire,
};

fn unknown_webhook() -> Response {
    wire::error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
}

/// Webhook `id`, if `token` is its token, or the error to answer.
fn webhook<'w>(w: &'w World, id: u64, token: &str) -> Result<&'w WebhookInfo, Response> {
    w.webhooks
        .get(&id)
        .filter(|h| h.token == token)
        .ok_or_else(unknown_webhook)
}

pub(super) async fn list_webhooks(State(s): State<Arc<Shared>>, Path(c): Path<u64>) -> Response {
    let w = s.world();
    if !w.channels.contains_key(&c) {
        return unknown_channel();
    }
    let all: Vec<Value> = w
        .webhooks
        .values()
        .filter(|h| h.channel_id == c)
        .map(|h| wire::webhook(w.guild_id, &w.bot, h))
        .collect();
    Json(all).into_response()
}

/// Discord's rules for webhook names and execute-time `username` overrides.
pub(super) fn check_name(field: &str, name: &str) -> Result<(), Response> {
    let n = name.chars().count();
    if !(1..=80).contains(&n) {
        return Err(wire::invalid_form(
            field,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 80 in length.",
        ));
    }
    let lower = name.to_lowercase();
    for word in ["discord", "clyde"] {
        if lower.contains(word) {
            return Err(wire::invalid_form(
                field,
                "USERNAME_INVALID_CONTAINS",
                &format!("Username cannot contain \"{word}\""),
            ));
        }
    }
    if matches!(lower.trim(), "everyone" | "here") {
        return Err(wire::invalid_form(
            field,
            "USERNAME_INVALID",
            &format!("Username cannot be \"{}\"", lower.trim()),
        ));
    }
    Ok(())
}

pub(super) async fn create_webhook(
    State(s): State<Arc<Shared>>,
    Path(c): Path<u64>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct NewWebhook {
        name: String,
    }
    let Ok(new) = serde_json::from_slice::<NewWebhook>(&body) else {
        return bad_json();
    };
    if let Err(r) = check_name("name", &new.name) {
        return r;
    }
    let mut w = s.world();
    if w.channels.get(&c).is_none_or(|ch| ch.kind != TEXT) {
        return unknown_channel();
    }
    if w.webhooks.values().filter(|h| h.channel_id == c).count() >= 15 {
        return wire::error(
            StatusCode::BAD_REQUEST,
            30007,
            "Maximum number of webhooks reached (15)",
        );
    }
    let id = w.snowflake();
    let token = format!(
        "wh{:x}{:x}",
        id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        w.snowflake()
    );
    let h = WebhookInfo {
        id,
        channel_id: c,
        name: new.name,
        token,
    };
    let json = wire::webhook(w.guild_id, &w.bot, &h);
    w.webhooks.insert(id, h);
    Json(json).into_response()
}

pub(super) async fn execute_webhook(
    State(s): State<Arc<Shared>>,
    Path((id, token)): Path<(u64, String)>,
    Query(q): Params,
    req: Request,
) -> Response {
    let found = webhook(&s.world(), id, &token).cloned();
    let hook = match found {
        Ok(h) => h,
        Err(r) => return r,
    };
    if q.contains_key("thread_id") {
        // Threads are not modelled: any thread is unknown.
        return unknown_channel();
    }
    let (payload, files) = match read_body(&s, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match accept(&s, hook.channel_id, Some(&hook), payload, files) {
        Ok(m) if q.get("wait").is_some_and(|w| w == "true") => {
            Json(message_json(&s, &m)).into_response()
        }
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// The webhook and message of a webhook message route, or the error to answer.
fn webhook_message(s: &Shared, id: u64, token: &str, mid: u64) -> Result<u64, Response> {
    let w = s.world();
    let h = webhook(&w, id, token)?;
    let i = w.by_id.get(&mid).ok_or_else(unknown_message)?;
    let m = &w.messages[*i];
    if m.webhook_id != Some(h.id) || m.deleted {
        return Err(unknown_message());
    }
    Ok(m.channel_id)
}

pub(super) async fn edit_webhook_message(
    State(s): State<Arc<Shared>>,
    Path((id, token, mid)): Path<(u64, String, u64)>,
    req: Request,
) -> Response {
    let channel = match webhook_message(&s, id, &token, mid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (payload, _) = match read_body(&s, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(Err(r)) = payload.content.as_deref().map(check_content) {
        return r;
    }
    let mut w = s.world();
    let Some(m) = w.message_mut(channel, mid) else {
        return unknown_message();
    };
    if let Some(c) = payload.content {
        m.content = c;
    }
    m.allowed_mentions = payload.allowed_mentions.or(m.allowed_mentions.take());
    m.edited = Some(chrono::Utc::now());
    let m = m.clone();
    let base = s.files_base();
    s.gateway
        .publish(&dispatches::message_update(&w, &base, &m));
    Json(wire::message(&w, &base, &m)).into_response()
}

pub(super) async fn delete_webhook_message(
    State(s): State<Arc<Shared>>,
    Path((id, token, mid)): Path<(u64, String, u64)>,
) -> Response {
    let channel = match webhook_message(&s, id, &token, mid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut w = s.world();
    if let Some(m) = w.message_mut(channel, mid) {
        m.deleted = true;
        s.gateway
            .publish(&dispatches::message_delete(&w, channel, mid));
    }
    StatusCode::NO_CONTENT.into_response()
}
