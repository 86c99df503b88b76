//! The guild itself, its roles and its members: what a client reads to work out the bot's
//! permissions. The guild the bot is not in answers 403 "Missing Access" (50001), any other
//! unknown guild 404 "Unknown Guild" (10004), as Discord does for bots.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{Shared, guild::RoleInfo, state::World, wire};

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

fn role(r: &RoleInfo) -> Value {
    json!({
        "id": r.id.to_string(), "name": r.name, "color": 0, "hoist": false, "icon": null,
        "unicode_emoji": null, "position": r.position, "permissions": r.permissions.to_string(),
        "managed": r.managed, "mentionable": false, "flags": 0,
    })
}

fn roles(w: &World) -> Vec<Value> {
    w.setup.roles.values().map(role).collect()
}

pub(super) async fn get_guild(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if let Some(e) = guild_error(&w, g) {
        return e;
    }
    Json(json!({
        "id": w.guild_id.to_string(), "name": w.setup.name, "icon": null, "splash": null,
        "discovery_splash": null, "owner_id": w.setup.owner_id.to_string(),
        "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 1, "explicit_content_filter": 0,
        "roles": roles(&w), "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
        "application_id": null, "system_channel_id": null, "system_channel_flags": 0,
        "rules_channel_id": null, "vanity_url_code": null, "description": null,
        "banner": null, "premium_tier": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": null, "nsfw_level": 0, "premium_progress_bar_enabled": false,
    }))
    .into_response()
}

pub(super) async fn get_roles(State(s): State<Arc<Shared>>, Path(g): Path<u64>) -> Response {
    let w = s.world();
    if let Some(e) = guild_error(&w, g) {
        return e;
    }
    Json(roles(&w)).into_response()
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
    } else {
        return wire::error(StatusCode::NOT_FOUND, 10007, "Unknown Member");
    };
    let member_roles: Vec<String> = member_roles.iter().map(u64::to_string).collect();
    Json(json!({
        "user": user, "nick": null, "avatar": null, "roles": member_roles,
        "joined_at": "2026-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
    }))
    .into_response()
}
