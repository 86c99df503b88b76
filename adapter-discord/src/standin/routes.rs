//! The REST handlers under `/api/v10`, and the plain attachment downloads.

// axum handlers are async functions even when they do not await.
#![allow(clippy::unused_async)]
// Validation helpers return the error answer itself: this is a test server, not a hot path.
#![allow(clippy::result_large_err)]

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State},
    http::{StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Shared, gate,
    state::{
        CATEGORY, ChannelInfo, RecordedFile, RecordedMessage, TEXT, WebhookInfo,
        normalize_text_channel_name,
    },
    wire,
};

type Params = Query<HashMap<String, String>>;

/// The whole router: the gated API and the attachment files.
pub(crate) fn router(s: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/users/@me", get(me))
        .route(
            "/api/v10/guilds/{g}/channels",
            get(list_channels).post(create_channel),
        )
        .route(
            "/api/v10/channels/{c}",
            get(get_channel).patch(edit_channel),
        )
        .route(
            "/api/v10/channels/{c}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/api/v10/channels/{c}/messages",
            get(list_messages).post(create_message),
        )
        .route(
            "/api/v10/channels/{c}/messages/{m}",
            get(get_message).delete(delete_message),
        )
        .route(
            "/api/v10/channels/{c}/messages/{m}/reactions/{emoji}/@me",
            put(add_reaction).delete(remove_reaction),
        )
        .route("/api/v10/webhooks/{id}/{token}", post(execute_webhook))
        .route(
            "/api/v10/webhooks/{id}/{token}/messages/{mid}",
            patch(edit_webhook_message).delete(delete_webhook_message),
        )
        .route_layer(middleware::from_fn_with_state(s.clone(), gate::gate));
    api.route("/attachments/{c}/{a}/{name}", get(file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(s)
}

async fn not_found() -> Response {
    wire::error(StatusCode::NOT_FOUND, 0, "404: Not Found")
}

async fn gateway(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({ "url": format!("ws://{}", s.http_addr) })).into_response()
}

async fn me(State(s): State<Arc<Shared>>) -> Response {
    Json(wire::user(&s.world().bot)).into_response()
}

fn unknown_channel() -> Response {
    wire::error(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
}

fn unknown_message() -> Response {
    wire::error(StatusCode::NOT_FOUND, 10008, "Unknown Message")
}

fn bad_json() -> Response {
    wire::error(
        StatusCode::BAD_REQUEST,
        50109,
        "The request body contains invalid JSON.",
    )
}

async fn list_channels(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if g != w.guild_id {
        return wire::error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
    }
    let all: Vec<Value> = w
        .channels
        .values()
        .map(|c| wire::channel(w.guild_id, c))
        .collect();
    Json(all).into_response()
}

#[derive(Deserialize)]
struct NewChannel {
    name: String,
    #[serde(rename = "type", default)]
    kind: u8,
    topic: Option<String>,
    parent_id: Option<String>,
    #[serde(default)]
    permission_overwrites: Vec<Value>,
}

async fn create_channel(State(s): State<Arc<Shared>>, Path(g): Path<u64>, body: Bytes) -> Response {
    let Ok(new) = serde_json::from_slice::<NewChannel>(&body) else {
        return bad_json();
    };
    let mut w = s.world();
    if g != w.guild_id {
        return wire::error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
    }
    if !(1..=100).contains(&new.name.chars().count()) {
        return wire::invalid_form(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    if new.kind != TEXT && new.kind != CATEGORY {
        return wire::invalid_form(
            "type",
            "BASE_TYPE_CHOICES",
            "The stand-in makes types 0 and 4 only.",
        );
    }
    if new.topic.as_ref().is_some_and(|t| t.chars().count() > 1024) {
        return wire::invalid_form(
            "topic",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 1024 or fewer in length.",
        );
    }
    let parent_id = match new.parent_id.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(p))
            if w.channels.get(&p).is_some_and(|c| c.kind == CATEGORY) && new.kind == TEXT =>
        {
            if w.channels
                .values()
                .filter(|c| c.parent_id == Some(p))
                .count()
                >= 50
            {
                return wire::invalid_form(
                    "parent_id",
                    "CHANNEL_PARENT_MAX_CHANNELS",
                    "Maximum number of channels in category reached (50)",
                );
            }
            Some(p)
        }
        Some(_) => {
            return wire::invalid_form("parent_id", "CHANNEL_PARENT_INVALID", "Not a category.");
        }
    };
    if w.channels.len() >= 500 {
        return wire::error(
            StatusCode::BAD_REQUEST,
            30013,
            "Maximum number of guild channels reached (500)",
        );
    }
    let guild = w.guild_id;
    let private = new.permission_overwrites.iter().any(|o| {
        o.get("id").and_then(Value::as_str) == Some(guild.to_string().as_str())
            && o.get("deny")
                .and_then(Value::as_str)
                .and_then(|d| d.parse::<u64>().ok())
                .is_some_and(|d| d & 1024 != 0)
    });
    let name = if new.kind == TEXT {
        normalize_text_channel_name(&new.name)
    } else {
        new.name
    };
    if name.is_empty() {
        return wire::invalid_form(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let id = w.snowflake();
    let c = ChannelInfo {
        id,
        kind: new.kind,
        name,
        topic: new.topic,
        parent_id,
        private,
    };
    let json = wire::channel(guild, &c);
    w.channels.insert(id, c);
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn get_channel(State(s): State<Arc<Shared>>, Path(c): Path<u64>) -> Response {
    let w = s.world();
    match w.channels.get(&c) {
        Some(ch) => Json(wire::channel(w.guild_id, ch)).into_response(),
        None => unknown_channel(),
    }
}

#[derive(Deserialize)]
struct ChannelEdit {
    name: Option<String>,
    topic: Option<String>,
    parent_id: Option<String>,
}

async fn edit_channel(State(s): State<Arc<Shared>>, Path(c): Path<u64>, body: Bytes) -> Response {
    let Ok(edit) = serde_json::from_slice::<ChannelEdit>(&body) else {
        return bad_json();
    };
    let mut w = s.world();
    let guild = w.guild_id;
    let parent = edit.parent_id.and_then(|p| p.parse::<u64>().ok());
    let Some(ch) = w.channels.get_mut(&c) else {
        return unknown_channel();
    };
    if let Some(n) = edit.name {
        ch.name = if ch.kind == TEXT {
            normalize_text_channel_name(&n)
        } else {
            n
        };
    }
    if let Some(t) = edit.topic {
        ch.topic = Some(t);
    }
    if parent.is_some() {
        ch.parent_id = parent;
    }
    Json(wire::channel(guild, ch)).into_response()
}

async fn list_webhooks(State(s): State<Arc<Shared>>, Path(c): Path<u64>) -> Response {
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
fn check_name(field: &str, name: &str) -> Result<(), Response> {
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

async fn create_webhook(State(s): State<Arc<Shared>>, Path(c): Path<u64>, body: Bytes) -> Response {
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

/// The body of a message create, webhook execute or edit.
#[derive(Default, Deserialize)]
struct Payload {
    content: Option<String>,
    username: Option<String>,
    avatar_url: Option<String>,
    allowed_mentions: Option<Value>,
    flags: Option<u64>,
    nonce: Option<Value>,
    #[serde(default)]
    enforce_nonce: bool,
    message_reference: Option<Value>,
    #[serde(default)]
    embeds: Vec<Value>,
}

/// Reads a JSON or `multipart/form-data` body (`payload_json` + `files[n]`), enforcing the file
/// limits as it goes.
async fn read_body(
    s: &Shared,
    req: Request,
) -> Result<(Payload, Vec<(String, Vec<u8>)>), Response> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if !multipart {
        let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .map_err(|_| bad_json())?;
        if bytes.is_empty() {
            return Ok((Payload::default(), Vec::new()));
        }
        let p = serde_json::from_slice(&bytes).map_err(|_| bad_json())?;
        return Ok((p, Vec::new()));
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|_| bad_json())?;
    let mut payload = Payload::default();
    let mut files = Vec::new();
    let mut total = 0u64;
    while let Some(field) = mp.next_field().await.map_err(|_| bad_json())? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|_| bad_json())?;
        total += bytes.len() as u64;
        if name == "payload_json" {
            payload = serde_json::from_slice(&bytes).map_err(|_| bad_json())?;
        } else if name.starts_with("files[") {
            if bytes.len() as u64 > s.max_file_size {
                return Err(wire::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    40005,
                    "Request entity too large",
                ));
            }
            files.push((file_name.unwrap_or_else(|| "file".into()), bytes.to_vec()));
        }
    }
    if total > s.max_request_size {
        return Err(wire::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            40005,
            "Request entity too large",
        ));
    }
    Ok((payload, files))
}

/// What `content` would notify under `allowed_mentions` (or the default when it is absent).
fn pinged(content: &str, allowed: Option<&Value>, webhook: bool) -> Vec<String> {
    let parse: Vec<String> = match allowed {
        Some(a) => a
            .get("parse")
            .and_then(Value::as_array)
            .map(|p| {
                p.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        None if webhook => vec!["users".into()],
        None => vec!["users".into(), "roles".into(), "everyone".into()],
    };
    let listed = |key: &str, id: &str| {
        allowed
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(id)))
    };
    let mut out = Vec::new();
    if (content.contains("@everyone") || content.contains("@here"))
        && parse.iter().any(|p| p == "everyone")
    {
        out.push("everyone".to_owned());
    }
    let mut rest = content;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let (role, body) = match rest.strip_prefix('&') {
            Some(r) => (true, r),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        let id: String = body.chars().take_while(char::is_ascii_digit).collect();
        if id.is_empty() || !body[id.len()..].starts_with('>') {
            continue;
        }
        let (kind, key) = if role {
            ("roles", "role")
        } else {
            ("users", "user")
        };
        if parse.iter().any(|p| p == kind) || listed(kind, &id) {
            out.push(format!("{key}:{id}"));
        }
    }
    out
}

/// Validates and records a new message.
fn accept(
    s: &Shared,
    channel_id: u64,
    webhook: Option<&WebhookInfo>,
    p: Payload,
    files: Vec<(String, Vec<u8>)>,
) -> Result<RecordedMessage, Response> {
    let content = p.content.unwrap_or_default();
    if content.chars().count() > 2000 {
        return Err(wire::invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    if files.len() > 10 {
        return Err(wire::error(
            StatusCode::BAD_REQUEST,
            30015,
            "Maximum number of attachments in a message reached (10)",
        ));
    }
    if content.is_empty() && files.is_empty() && p.embeds.is_empty() {
        return Err(wire::error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        ));
    }
    let allowed_flags = if webhook.is_some() {
        4 | 4096 | 32768
    } else {
        4 | 4096 | 8192 | 32768
    };
    let flags = p.flags.unwrap_or(0);
    if flags & !allowed_flags != 0 {
        return Err(wire::invalid_form(
            "flags",
            "MESSAGE_FLAGS_INVALID",
            "Invalid flags.",
        ));
    }
    let author_name = match (webhook, &p.username) {
        (Some(_), Some(u)) => {
            check_name("username", u)?;
            u.clone()
        }
        (Some(h), None) => h.name.clone(),
        (None, _) => s.world().bot.name.clone(),
    };
    let pinged = pinged(&content, p.allowed_mentions.as_ref(), webhook.is_some());
    let nonce = p.nonce.map(|n| match n {
        Value::String(s) => s,
        other => other.to_string(),
    });
    let reference = p
        .message_reference
        .as_ref()
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_str)
        .and_then(|m| m.parse().ok());
    let mut w = s.world();
    let files = files
        .into_iter()
        .map(|(name, bytes)| RecordedFile {
            id: w.snowflake(),
            name,
            bytes,
        })
        .collect();
    let msg = RecordedMessage {
        id: w.snowflake(),
        channel_id,
        webhook_id: webhook.map(|h| h.id),
        author_name,
        avatar_url: if webhook.is_some() {
            p.avatar_url
        } else {
            None
        },
        content,
        flags,
        allowed_mentions: p.allowed_mentions,
        pinged,
        files,
        reactions: Vec::new(),
        nonce,
        reference,
        deleted: false,
        edited: false,
    };
    w.push(msg.clone());
    Ok(msg)
}

fn message_json(s: &Shared, m: &RecordedMessage) -> Value {
    wire::message(&s.world().bot, &format!("http://{}", s.http_addr), m)
}

async fn execute_webhook(
    State(s): State<Arc<Shared>>,
    Path((id, token)): Path<(u64, String)>,
    Query(q): Params,
    req: Request,
) -> Response {
    let hook = s
        .world()
        .webhooks
        .get(&id)
        .filter(|h| h.token == token)
        .cloned();
    let Some(hook) = hook else {
        return wire::error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
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

async fn create_message(
    State(s): State<Arc<Shared>>,
    Path(c): Path<u64>,
    req: Request,
) -> Response {
    if s.world().channels.get(&c).is_none_or(|ch| ch.kind != TEXT) {
        return unknown_channel();
    }
    let (payload, files) = match read_body(&s, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let nonce = payload.nonce.as_ref().map(|n| match n {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let (Some(n), true) = (&nonce, payload.enforce_nonce) {
        let w = s.world();
        let known = w
            .nonces
            .get(&(c, n.clone()))
            .and_then(|id| w.by_id.get(id))
            .map(|i| w.messages[*i].clone());
        drop(w);
        if let Some(m) = known {
            return Json(message_json(&s, &m)).into_response();
        }
    }
    match accept(&s, c, None, payload, files) {
        Ok(m) => {
            if let Some(n) = nonce {
                s.world().nonces.insert((c, n), m.id);
            }
            Json(message_json(&s, &m)).into_response()
        }
        Err(r) => r,
    }
}

async fn list_messages(
    State(s): State<Arc<Shared>>,
    Path(c): Path<u64>,
    Query(q): Params,
) -> Response {
    let limit: usize = match q.get("limit").map(|l| l.parse()) {
        None => 50,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return wire::invalid_form(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be between 1 and 100.",
            );
        }
    };
    let id = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let w = s.world();
    if !w.channels.contains_key(&c) {
        return unknown_channel();
    }
    let live: Vec<&RecordedMessage> = w
        .messages
        .iter()
        .filter(|m| m.channel_id == c && !m.deleted)
        .collect();
    let picked: Vec<&RecordedMessage> = if let Some(after) = id("after") {
        live.iter()
            .filter(|m| m.id > after)
            .take(limit)
            .copied()
            .collect()
    } else if let Some(before) = id("before") {
        let older: Vec<_> = live.iter().filter(|m| m.id < before).copied().collect();
        older[older.len().saturating_sub(limit)..].to_vec()
    } else if let Some(around) = id("around") {
        let i = live
            .iter()
            .position(|m| m.id >= around)
            .unwrap_or(live.len());
        let start = i.saturating_sub(limit / 2);
        live[start..(start + limit).min(live.len())].to_vec()
    } else {
        live[live.len().saturating_sub(limit)..].to_vec()
    };
    let base = format!("http://{}", s.http_addr);
    let out: Vec<Value> = picked
        .iter()
        .rev()
        .map(|m| wire::message(&w.bot, &base, m))
        .collect();
    Json(out).into_response()
}

async fn get_message(State(s): State<Arc<Shared>>, Path((c, m)): Path<(u64, u64)>) -> Response {
    let mut w = s.world();
    let Some(msg) = w.message_mut(c, m).map(|m| m.clone()) else {
        return unknown_message();
    };
    drop(w);
    Json(message_json(&s, &msg)).into_response()
}

async fn delete_message(State(s): State<Arc<Shared>>, Path((c, m)): Path<(u64, u64)>) -> Response {
    match s.world().message_mut(c, m) {
        Some(msg) => {
            msg.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => unknown_message(),
    }
}

async fn add_reaction(
    State(s): State<Arc<Shared>>,
    Path((c, m, emoji)): Path<(u64, u64, String)>,
) -> Response {
    if emoji.is_empty() {
        return wire::error(StatusCode::BAD_REQUEST, 10014, "Unknown Emoji");
    }
    let mut w = s.world();
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    if !msg.reactions.iter().any(|(e, _)| *e == emoji) {
        if msg.reactions.len() >= 20 {
            return wire::error(
                StatusCode::BAD_REQUEST,
                30010,
                "Maximum number of reactions reached (20)",
            );
        }
        // The bot reacts once per emoji: a second PUT changes nothing.
        msg.reactions.push((emoji, 1));
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_reaction(
    State(s): State<Arc<Shared>>,
    Path((c, m, emoji)): Path<(u64, u64, String)>,
) -> Response {
    let mut w = s.world();
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    msg.reactions.retain(|(e, _)| *e != emoji);
    StatusCode::NO_CONTENT.into_response()
}

/// The webhook and message of a webhook message route, or the error to answer.
fn webhook_message(s: &Shared, id: u64, token: &str, mid: u64) -> Result<u64, Response> {
    let w = s.world();
    let Some(h) = w.webhooks.get(&id).filter(|h| h.token == token) else {
        return Err(wire::error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook"));
    };
    let i = w.by_id.get(&mid).ok_or_else(unknown_message)?;
    let m = &w.messages[*i];
    if m.webhook_id != Some(h.id) || m.deleted {
        return Err(unknown_message());
    }
    Ok(m.channel_id)
}

async fn edit_webhook_message(
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
    if let Some(c) = &payload.content {
        if c.chars().count() > 2000 {
            return wire::invalid_form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            );
        }
    }
    let mut w = s.world();
    let Some(m) = w.message_mut(channel, mid) else {
        return unknown_message();
    };
    if let Some(c) = payload.content {
        m.content = c;
    }
    m.allowed_mentions = payload.allowed_mentions.or(m.allowed_mentions.take());
    m.edited = true;
    let m = m.clone();
    drop(w);
    Json(message_json(&s, &m)).into_response()
}

async fn delete_webhook_message(
    State(s): State<Arc<Shared>>,
    Path((id, token, mid)): Path<(u64, String, u64)>,
) -> Response {
    let channel = match webhook_message(&s, id, &token, mid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(m) = s.world().message_mut(channel, mid) {
        m.deleted = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn file(
    State(s): State<Arc<Shared>>,
    Path((c, a, _name)): Path<(u64, u64, String)>,
) -> Response {
    let w = s.world();
    let found = w
        .messages
        .iter()
        .filter(|m| m.channel_id == c)
        .flat_map(|m| m.files.iter())
        .find(|f| f.id == a);
    match found {
        Some(f) => f.bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
