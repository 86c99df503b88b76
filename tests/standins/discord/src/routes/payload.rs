//! What a message post carries (the body of a message create, webhook execute or edit), read
//! from JSON or `multipart/form-data`, and how a new message is validated and recorded.

use axum::{
    extract::{FromRequest, Multipart, Request},
    http::{StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use serde_json::Value;

use super::{bad_json, webhooks::check_name};
use crate::{
    Shared,
    filenames::discord_file_name,
    gateway::dispatches,
    state::{RecordedFile, RecordedMessage, WebhookInfo},
    wire,
};

/// The body of a message create, webhook execute or edit.
#[derive(Default, Deserialize)]
pub(super) struct Payload {
    pub(super) content: Option<String>,
    username: Option<String>,
    avatar_url: Option<String>,
    pub(super) allowed_mentions: Option<Value>,
    flags: Option<u64>,
    nonce: Option<Value>,
    #[serde(default)]
    pub(super) enforce_nonce: bool,
    message_reference: Option<Value>,
    #[serde(default)]
    embeds: Vec<Value>,
}

impl Payload {
    /// The nonce as recorded: a string as is, a number in its JSON form.
    pub(super) fn nonce(&self) -> Option<String> {
        self.nonce.as_ref().map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// The files of a post: (file name, bytes), in order.
pub(super) type Files = Vec<(String, Vec<u8>)>;

fn too_large() -> Response {
    wire::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        40005,
        "Request entity too large",
    )
}

/// Discord's limit on `content`.
pub(super) fn check_content(content: &str) -> Result<(), Response> {
    if content.chars().count() > 2000 {
        return Err(wire::invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    Ok(())
}

/// Reads a JSON or `multipart/form-data` body (`payload_json` + `files[n]`), enforcing the file
/// limits as it goes.
pub(super) async fn read_body(s: &Shared, req: Request) -> Result<(Payload, Files), Response> {
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
                return Err(too_large());
            }
            files.push((file_name.unwrap_or_else(|| "file".into()), bytes.to_vec()));
        }
    }
    if total > s.max_request_size {
        return Err(too_large());
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

/// Validates and records a new message, and publishes its MESSAGE_CREATE.
pub(super) fn accept(
    s: &Shared,
    channel_id: u64,
    webhook: Option<&WebhookInfo>,
    p: Payload,
    files: Files,
) -> Result<RecordedMessage, Response> {
    let nonce = p.nonce();
    let content = p.content.unwrap_or_default();
    check_content(&content)?;
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
    let base = s.files_base();
    let pinged = pinged(&content, p.allowed_mentions.as_ref(), webhook.is_some());
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
            // Discord keeps a cleaned name, not the one sent.
            name: discord_file_name(&name),
            bytes,
        })
        .collect();
    let bot = w.bot.id;
    let msg = RecordedMessage {
        id: w.snowflake(),
        channel_id,
        webhook_id: webhook.map(|h| h.id),
        author_id: webhook.map_or(bot, |h| h.id),
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
        edited: None,
    };
    w.push(msg.clone());
    s.gateway
        .publish(&dispatches::message_create(&w, &base, &msg));
    Ok(msg)
}
