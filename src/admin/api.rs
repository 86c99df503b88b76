//! The read-only REST API over the export and the mapping store (`/api/v1/…`), for analysis
//! tools: the chats, their messages paged and filtered, counts per chat, sender or day, and
//! where each message's copies are. `openapi.json` documents it (served at
//! `/api/v1/openapi.json`); a property-based tester checks the server against that file.

use std::{collections::BTreeMap, sync::Arc};

use adapter_keybase::KeybaseExport;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use bridge_core::{ChatId, ChatRef, Cursor, HistorySource, Message, MessageKind, Platform};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminState;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Most messages one request returns.
const MAX_LIMIT: usize = 1000;
/// Messages read from the export per page while filtering.
const SCAN_PAGE: usize = 500;
/// Pages one request scans before it answers with what it found and a cursor.
const SCAN_PAGES: usize = 20;

/// An error answer: `{"error": "…"}` with its status.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, text: impl Into<String>) -> ApiError {
    ApiError(status, text.into())
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        error(StatusCode::BAD_REQUEST, e.body_text())
    }
}

/// The export, or the answer that there is none.
fn export(state: &AdminState) -> Result<&Arc<KeybaseExport>, ApiError> {
    state.export.as_ref().ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "no export is configured ([keybase] export)",
        )
    })
}

/// `chat` checked against the export.
fn known_chat(export: &KeybaseExport, chat: &str) -> Result<ChatId, ApiError> {
    if export.chats().iter().any(|c| c.chat.as_str() == chat) {
        Ok(ChatId::new(chat))
    } else {
        Err(error(
            StatusCode::NOT_FOUND,
            format!("no chat {chat:?} in the export"),
        ))
    }
}

/// A failure reading the export.
fn internal(e: &bridge_core::AdapterError) -> ApiError {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        bridge_core::Report::new(e).to_string(),
    )
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /api/v1/chats`.
pub async fn chats(State(state): State<Arc<AdminState>>) -> Result<Json<Value>, ApiError> {
    let export = export(&state)?;
    let chats: Vec<Value> = export
        .chats()
        .iter()
        .map(|c| {
            json!({
                "chat": c.chat.as_str(),
                "messages": c.messages,
                "first_id": c.first_id.to_string(),
                "last_id": c.last_id.to_string(),
                "first_sent_at": c.first_sent_at.to_rfc3339(),
                "last_sent_at": c.last_sent_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(json!({ "chats": chats })))
}

/// The query of `GET /api/v1/messages`.
#[derive(Debug, Deserialize)]
pub struct MessagesQuery {
    chat: String,
    sender: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

fn time(value: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        format!("{name}: {v:?} is not an RFC 3339 time (2020-09-13T12:26:40Z)"),
                    )
                })
        })
        .transpose()
}

/// `GET /api/v1/messages?chat=…`: a page of one chat's messages, oldest first, filtered.
pub async fn messages(
    State(state): State<Arc<AdminState>>,
    q: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let export = export(&state)?;
    let chat = known_chat(export, &q.chat)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("limit: between 1 and {MAX_LIMIT}"),
        ));
    }
    let since = time(q.since.as_deref(), "since")?;
    let until = time(q.until.as_deref(), "until")?;
    if let Some(after) = &q.after {
        if after.is_empty() || !after.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "after: a message id (digits)",
            ));
        }
    }
    let keep = |m: &Message| {
        q.sender.as_deref().is_none_or(|s| m.sender.name == s)
            && since.is_none_or(|t| m.sent_at >= t)
            && until.is_none_or(|t| m.sent_at < t)
    };
    let mut cursor = q.after.clone().map(Cursor::new);
    let mut found = Vec::new();
    let mut next = None;
    for _ in 0..SCAN_PAGES {
        let page = export
            .page(&chat, cursor.as_ref(), SCAN_PAGE)
            .await
            .map_err(|e| internal(&e))?;
        let mut full = false;
        for m in &page.messages {
            if keep(m) {
                found.push(message_json(m));
            }
            if found.len() == limit {
                next = Some(m.origin.msg.to_string());
                full = true;
                break;
            }
        }
        if full {
            break;
        }
        match page.next {
            Some(c) => {
                next = Some(c.as_str().to_owned());
                cursor = Some(c);
            }
            None => {
                next = None;
                break;
            }
        }
    }
    Ok(Json(json!({ "messages": found, "next": next })))
}

fn message_json(m: &Message) -> Value {
    let reactions: Vec<Value> = m
        .reactions
        .iter()
        .map(|r| {
            let users: Vec<&str> = r.users.iter().map(|u| u.name.as_str()).collect();
            json!({ "emoji": r.emoji, "users": users })
        })
        .collect();
    let attachments: Vec<Value> = m
        .content
        .attachments
        .iter()
        .map(|a| json!({ "name": a.name, "size": a.size }))
        .collect();
    json!({
        "id": m.origin.msg.as_str(),
        "chat": m.origin.chat.as_str(),
        "sender": m.sender.name,
        "sent_at": m.sent_at.to_rfc3339(),
        "notice": m.kind == MessageKind::Notice,
        "text": m.content.text,
        "reply_to": m.reply_to.as_ref().map(|r| r.as_str().to_owned()),
        "edited": m.edited,
        "reactions": reactions,
        "attachments": attachments,
    })
}

/// The query of `GET /api/v1/stats`.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    by: String,
    chat: Option<String>,
}

/// `GET /api/v1/stats?by=chat|sender|day[&chat=…]`: message counts per key.
pub async fn stats(
    State(state): State<Arc<AdminState>>,
    q: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let export = export(&state)?;
    let key: fn(&Message) -> String = match q.by.as_str() {
        "chat" => |m| m.origin.chat.to_string(),
        "sender" => |m| m.sender.name.clone(),
        "day" => |m| m.sent_at.format("%Y-%m-%d").to_string(),
        other => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("by: {other:?} is not one of chat, sender, day"),
            ));
        }
    };
    let chats: Vec<ChatId> = match &q.chat {
        Some(chat) => vec![known_chat(export, chat)?],
        None => export.chats().iter().map(|c| c.chat.clone()).collect(),
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for chat in chats {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = export
                .page(&chat, cursor.as_ref(), SCAN_PAGE)
                .await
                .map_err(|e| internal(&e))?;
            for m in &page.messages {
                *counts.entry(key(m)).or_default() += 1;
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    let rows: Vec<Value> = counts
        .into_iter()
        .map(|(key, messages)| json!({ "key": key, "messages": messages }))
        .collect();
    Ok(Json(json!({ "by": q.by, "rows": rows })))
}

/// The query of `GET /api/v1/copies`.
#[derive(Debug, Deserialize)]
pub struct CopiesQuery {
    chat: String,
    id: String,
}

/// `GET /api/v1/copies?chat=…&id=…`: where the copies of one message are.
pub async fn copies(
    State(state): State<Arc<AdminState>>,
    q: Result<Query<CopiesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    if q.chat.is_empty() || q.id.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "chat and id are required"));
    }
    let origin = ChatRef::new(Platform::Keybase, q.chat.as_str()).msg(q.id.as_str());
    match state.store.copies_everywhere(&origin).await {
        Ok(rows) => {
            let copies: Vec<Value> = rows
                .iter()
                .map(|(to, row)| {
                    json!({
                        "chat": to.to_string(),
                        "part": row.part,
                        "state": row.state.as_str(),
                        "id": row.msg.as_ref().map(|m| m.as_str().to_owned()),
                    })
                })
                .collect();
            Ok(Json(
                json!({ "origin": origin.to_string(), "copies": copies }),
            ))
        }
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            bridge_core::Report::new(&e).to_string(),
        )),
    }
}
