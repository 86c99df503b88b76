//! The gateway: a WebSocket server on its own plain `ws://` loopback port, reached through
//! `GET /gateway` as serenity reaches Discord's. JSON text frames, one shard.
//!
//! - `connection.rs`: one connection, HELLO to close.
//! - `identify.rs`: IDENTIFY and RESUME, the URL's query, and Discord's checks on them.
//! - `hub.rs`: connections, sessions, the event bus and the tests' controls.
//! - `session.rs`: a session's sequence numbers and replay buffer.
//! - `dispatches.rs`: the event payloads, built from the world.
//! - `frames.rs`: opcodes, close codes and the `{op, d, s, t}` frames.
//! - `intents.rs`: intents, privileged intents and the application flags.
//! - `hooks.rs`: what tests call on `StandIn` to watch and disturb it.

mod connection;
pub(crate) mod dispatches;
mod frames;
mod hooks;
mod hub;
mod identify;
pub mod intents;
mod session;

use std::sync::Arc;

use tokio::net::TcpListener;

pub(crate) use self::hub::Gateway;
pub use self::hub::{GatewayStats, SessionInfo};
use crate::Shared;

/// Accepts gateway connections on `listener` forever.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(connection::run(tcp, shared.clone()));
    }
}
