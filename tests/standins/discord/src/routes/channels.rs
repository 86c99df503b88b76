//! The guild's channels and categories: listed and created under the guild, read and edited
//! one by one.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use super::{bad_json, unknown_channel};
use crate::{
    Shared,
    state::{CATEGORY, ChannelInfo, TEXT, normalize_text_channel_name},
    wire,
};

fn unknown_guild() -> Response {
    wire::error(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
}

fn bad_name_length() -> Response {
    wire::invalid_form(
        "name",
        "BASE_TYPE_BAD_LENGTH",
        "Must be between 1 and 100 in length.",
    )
}

/// The name stored for a channel of type `kind`: text channel names are normalized.
fn stored_name(kind: u8, name: String) -> String {
    if kind == TEXT {
        normalize_text_channel_name(&name)
    } else {
        name
    }
}

pub(super) async fn list_channels(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if g != w.guild_id {
        return unknown_guild();
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

pub(super) async fn create_channel(
    State(s): State<Arc<Shared>>,
    Path(g): Path<u64>,
    body: Bytes,
) -> Response {
    let Ok(new) = serde_json::from_slice::<NewChannel>(&body) else {
        return bad_json();
    };
    let mut w = s.world();
    if g != w.guild_id {
        return unknown_guild();
    }
    if !(1..=100).contains(&new.name.chars().count()) {
        return bad_name_length();
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
    let name = stored_name(new.kind, new.name);
    if name.is_empty() {
        return bad_name_length();
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

pub(super) async fn get_channel(State(s): State<Arc<Shared>>, Path(c): Path<u64>) -> Response {
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

pub(super) async fn edit_channel(
    State(s): State<Arc<Shared>>,
    Path(c): Path<u64>,
    body: Bytes,
) -> Response {
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
        ch.name = stored_name(ch.kind, n);
    }
    if let Some(t) = edit.topic {
        ch.topic = Some(t);
    }
    if parent.is_some() {
        ch.parent_id = parent;
    }
    Json(wire::channel(guild, ch)).into_response()
}
