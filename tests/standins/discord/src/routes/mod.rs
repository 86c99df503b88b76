//! The REST handlers under `/api/v10`, and the plain attachment downloads: the router, the two
//! bot-level routes (`gateway`, `users/@me`) and the error answers the handlers share.
//!
//! - `guilds.rs`: the guild, its roles and members (for permission checks).
//! - `channels.rs`: the guild's channels, listed, created, read and edited.
//! - `webhooks.rs`: channel webhooks, their execution and their messages' edits and deletions.
//! - `messages.rs`: the bot's channel messages and the attachment downloads.
//! - `reactions.rs`: the bot's reactions on any message, and who reacted with an emoji.
//! - `payload.rs`: what a message post carries (JSON or multipart) and how it is accepted.
//!
//! Every change to a message or its reactions is published on the gateway while the world is
//! still locked, so events are numbered in the order the changes happened.

// axum handlers are async functions even when they do not await.
#![allow(clippy::unused_async)]
// Validation helpers return the error answer itself: this is a test server, not a hot path.
#![allow(clippy::result_large_err)]

mod channels;
mod guilds;
mod messages;
mod payload;
mod reactions;
mod webhooks;

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Query, State},
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use serde_json::{Value, json};

use super::{Shared, gate, state::RecordedMessage, wire};

type Params = Query<HashMap<String, String>>;

/// The whole router: the gated API and the attachment files.
pub(crate) fn router(s: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/users/@me", get(me))
        .route("/api/v10/applications/@me", get(application))
        .route("/api/v10/oauth2/applications/@me", get(application))
        .route("/api/v10/guilds/{g}", get(guilds::get_guild))
        .route("/api/v10/guilds/{g}/roles", get(guilds::get_roles))
        .route("/api/v10/guilds/{g}/members/{u}", get(guilds::get_member))
        .route(
            "/api/v10/guilds/{g}/channels",
            get(channels::list_channels).post(channels::create_channel),
        )
        .route(
            "/api/v10/channels/{c}",
            get(channels::get_channel).patch(channels::edit_channel),
        )
        .route(
            "/api/v10/channels/{c}/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/api/v10/channels/{c}/messages",
            get(messages::list_messages).post(messages::create_message),
        )
        .route(
            "/api/v10/channels/{c}/messages/{m}",
            get(messages::get_message).delete(messages::delete_message),
        )
        .route(
            "/api/v10/channels/{c}/messages/{m}/reactions/{emoji}",
            get(reactions::list_reactions),
        )
        .route(
            "/api/v10/channels/{c}/messages/{m}/reactions/{emoji}/@me",
            put(reactions::add_reaction).delete(reactions::remove_reaction),
        )
        .route(
            "/api/v10/webhooks/{id}/{token}",
            post(webhooks::execute_webhook),
        )
        .route(
            "/api/v10/webhooks/{id}/{token}/messages/{mid}",
            patch(webhooks::edit_webhook_message).delete(webhooks::delete_webhook_message),
        )
        .route_layer(middleware::from_fn_with_state(s.clone(), gate::gate));
    api.route("/attachments/{c}/{a}/{name}", get(messages::file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(s)
}

async fn not_found() -> Response {
    wire::error(StatusCode::NOT_FOUND, 0, "404: Not Found")
}

async fn gateway(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({ "url": format!("ws://{}", s.gateway.addr) })).into_response()
}

async fn me(State(s): State<Arc<Shared>>) -> Response {
    Json(wire::user(&s.world().bot)).into_response()
}

/// The bot's application: its ID (the bot user's, as for bot applications), name, and the
/// `flags` of the privileged intents it was granted (GATEWAY_MESSAGE_CONTENT is `1 << 18`).
async fn application(State(s): State<Arc<Shared>>) -> Response {
    let bot = s.world().bot.clone();
    let flags = crate::gateway::intents::application_flags(s.gateway.privileged);
    Json(json!({
        "id": bot.id.to_string(),
        "name": bot.name,
        "bot_public": true,
        "bot_require_code_grant": false,
        "flags": flags,
    }))
    .into_response()
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

fn message_json(s: &Shared, m: &RecordedMessage) -> Value {
    wire::message(&s.world(), &s.files_base(), m)
}
