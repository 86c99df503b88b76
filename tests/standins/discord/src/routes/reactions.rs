//! Reactions on any message: the bot's own added and taken back, and who reacted with an
//! emoji (the humans' reactions are made by the test hooks in `humans.rs`).

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{Params, unknown_channel, unknown_message};
use crate::{Shared, gateway::dispatches, wire};

/// Users listed when `limit` is absent (Discord's default).
const DEFAULT_LIMIT: usize = 25;

/// `GET …/messages/{m}/reactions/{emoji}`: the users who reacted with `emoji`, sorted by ID,
/// the ones after `after` (exclusive), at most `limit` (1–100). An emoji nobody used gives an
/// empty list (the stand-in has no guild emoji to check a custom one against).
pub(super) async fn list_reactions(
    State(s): State<Arc<Shared>>,
    Path((c, m, emoji)): Path<(u64, u64, String)>,
    Query(q): Params,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return wire::invalid_form(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be between 1 and 100.",
            );
        }
    };
    let after = match q.get("after").map(|a| a.parse::<u64>()) {
        None => 0,
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            return wire::invalid_form("after", "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        }
    };
    if emoji.is_empty() {
        return wire::error(StatusCode::BAD_REQUEST, 10014, "Unknown Emoji");
    }
    let mut w = s.world();
    if !w.channels.contains_key(&c) {
        return unknown_channel();
    }
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    let mut users: Vec<u64> = msg
        .reactions
        .iter()
        .find(|r| r.emoji == emoji)
        .map(|r| r.users.clone())
        .unwrap_or_default();
    users.sort_unstable();
    let out: Vec<Value> = users
        .into_iter()
        .filter(|u| *u > after)
        .take(limit)
        .map(|u| {
            w.humans
                .get(&u)
                .map_or_else(|| wire::user(&w.bot), wire::human)
        })
        .collect();
    Json(out).into_response()
}

pub(super) async fn add_reaction(
    State(s): State<Arc<Shared>>,
    Path((c, m, emoji)): Path<(u64, u64, String)>,
) -> Response {
    if emoji.is_empty() {
        return wire::error(StatusCode::BAD_REQUEST, 10014, "Unknown Emoji");
    }
    let mut w = s.world();
    let bot = w.bot.id;
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    match msg.add_reaction(&emoji, bot) {
        Ok(true) => {
            let msg = msg.clone();
            s.gateway
                .publish(&dispatches::reaction(&w, &msg, &emoji, bot, true));
        }
        // The bot reacts once per emoji: a second PUT changes nothing and tells no one.
        Ok(false) => {}
        Err(()) => {
            return wire::error(
                StatusCode::BAD_REQUEST,
                30010,
                "Maximum number of reactions reached (20)",
            );
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn remove_reaction(
    State(s): State<Arc<Shared>>,
    Path((c, m, emoji)): Path<(u64, u64, String)>,
) -> Response {
    let mut w = s.world();
    let bot = w.bot.id;
    let Some(msg) = w.message_mut(c, m) else {
        return unknown_message();
    };
    if msg.remove_reaction(&emoji, bot) {
        let msg = msg.clone();
        s.gateway
            .publish(&dispatches::reaction(&w, &msg, &emoji, bot, false));
    }
    StatusCode::NO_CONTENT.into_response()
}
