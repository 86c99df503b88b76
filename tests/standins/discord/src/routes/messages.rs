//! The bot's own channel messages (posted, listed, read, deleted) and the plain attachment
//! downloads.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, Query, Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{
    Params, message_json,
    payload::{accept, read_body},
    unknown_channel, unknown_message,
};
use crate::{
    Shared,
    gateway::dispatches,
    state::{RecordedMessage, TEXT},
    wire,
};

pub(super) async fn create_message(
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
    let nonce = payload.nonce();
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

pub(super) async fn list_messages(
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
    let base = s.files_base();
    let out: Vec<Value> = picked
        .iter()
        .rev()
        .map(|m| wire::message(&w, &base, m))
        .collect();
    Json(out).into_response()
}

pub(super) async fn get_message(
    State(s): State<Arc<Shared>>,
    Path((c, m)): Path<(u64, u64)>,
) -> Response {
    let mut w = s.world();
    let Some(msg) = w.message_mut(c, m).map(|m| m.clone()) else {
        return unknown_message();
    };
    drop(w);
    Json(message_json(&s, &msg)).into_response()
}

pub(super) async fn delete_message(
    State(s): State<Arc<Shared>>,
    Path((c, m)): Path<(u64, u64)>,
) -> Response {
    let mut w = s.world();
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    msg.deleted = true;
    s.gateway.publish(&dispatches::message_delete(&w, c, m));
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn file(
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
