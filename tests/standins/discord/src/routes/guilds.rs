//! The guild itself, its roles and its members (the bot, the owner, the humans tests act as):
//! what a client reads to work out the bot's permissions. The guild the bot is not in answers 403 "Missing Access" (50001), any other
//! unknown guild 404 "Unknown Guild" (10004), as Discord does for bots.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{Shared, state::World, wire};

/// The error for a guild other than the stand-in's, or `None` for its own.
fn guild_error(w: &World, g: u64) -> Option<Response> {
    if g == w.guild_id {
        None
    } else if g == w.setup.other_guild {
        Some(wire::error(StatusCode::FORBIDDEN, 50001, "Missing Access"))
    } else {
        Some(wire::error(StatusCode::NOT_FOUND, 10004, "Unknown Guild"))
    }
}

pub(super) async fn get_guild(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if let Some(e) = guild_error(&w, g) {
        return e;
    }
    Json(wire::guild(&w)).into_response()
}

pub(super) async fn get_roles(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if let Some(e) = guild_error(&w, g) {
        return e;
    }
    Json(wire::roles(&w)).into_response()
}

pub(super) async fn get_member(
    State(s): State<Arc<Shared>>,
    Path((g, u)): Path<(u64, u64)>,
) -> Response {
    let w = s.world();
    if let Some(e) = guild_error(&w, g) {
        return e;
    }
    let (user, member_roles) = if u == w.bot.id {
        (wire::user(&w.bot), w.setup.bot_roles.clone())
    } else if u == w.setup.owner_id {
        let owner = json!({ "id": u.to_string(), "username": "owner", "discriminator": "0",
            "global_name": null, "avatar": null });
        (owner, Vec::new())
    } else if let Some(h) = w.humans.get(&u) {
        (wire::human(h), Vec::new())
    } else {
        return wire::error(StatusCode::NOT_FOUND, 10007, "Unknown Member");
    };
    Json(wire::member(Some(user), &member_roles)).into_response()
}
