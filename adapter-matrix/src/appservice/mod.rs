//! The appservice's receiving side: the homeserver pushes events to kbbridge.
//!
//! The homeserver calls the registration's `url` (kbbridge listens on `matrix.listen`) with
//! numbered transactions of events, and sends a transaction again until it is answered 200,
//! oldest first; while kbbridge is down it queues them. So a transaction is answered only once
//! its events are written to the store's inbox, and kbbridge pings the homeserver when it
//! starts listening, which makes Synapse send what it queued at once instead of after its
//! backoff (up to 8.5 minutes). See `relay.md` §2.
//!
//! # Files
//! - `server.rs`: the axum router and the [`Listening`] task.
//! - `auth.rs`: the `hs_token` check, in constant time.
//! - `inbox.rs`: what of a transaction is kept ([`Filter`]) and the [`Inbox`] read back.
//! - `event.rs`: an inbox item → a core `Incoming`, with its event ID ([`Pushed`]).
//! - `pump.rs`: the inbox → the relay, each event marked handled once the relay applied it.
//! - `gaps.rs`: events the homeserver skipped at the end of a recovery, taken in their place.

mod auth;
mod event;
mod gaps;
mod inbox;
mod pump;
mod server;

use std::{net::SocketAddr, sync::Arc, time::Duration};

pub use auth::{Denied, TokenCheck};
pub use event::{Converted, Pushed, Skip, convert};
pub use gaps::{GapCheck, LATE, WINDOW};
pub use inbox::{Dropped, Filter, INGRESS, Inbox, Judged, KnownRooms, Ours, Waiting};
pub use pump::pump;
pub use server::{BODY_LIMIT, Listening, Receiver, router};

use bridge_core::MappingStore;
use ruma::api::client::appservice::request_ping;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::{
    client::MatrixClient, config::MatrixConfig, error::MatrixError, registration::APPSERVICE_ID,
};

/// Asks the homeserver to ping kbbridge (`POST /_matrix/client/v1/appservice/{id}/ping`) and
/// returns how long the round trip took. A successful ping makes Synapse send the
/// transactions it queued at once.
///
/// # Errors
/// The homeserver's answer: it could not reach kbbridge, or refused the ping.
pub async fn ping_homeserver(client: &MatrixClient) -> Result<Duration, MatrixError> {
    let answer = client
        .send(
            request_ping::v1::Request::new(APPSERVICE_ID.to_owned()),
            None,
        )
        .await?;
    Ok(answer.duration)
}

/// Listens on `config.listen` for the homeserver, writing into `store`'s inbox the events in
/// `rooms` that are not kbbridge's own, then pings the homeserver so that it sends what it
/// queued. A ping that fails is a warning: the homeserver still retries by itself.
///
/// # Errors
/// [`MatrixError::Invalid`] when `matrix.hs_token` is not set (every transaction would be
/// refused) or `config.listen` cannot be bound.
pub async fn start(
    config: &MatrixConfig,
    client: &MatrixClient,
    store: MappingStore,
    rooms: KnownRooms,
) -> Result<Listening, MatrixError> {
    if config.hs_token.is_empty() {
        return Err(MatrixError::Invalid(
            "matrix.hs_token is not set (KBBRIDGE__MATRIX__HS_TOKEN): the homeserver's \
             transactions could not be checked; give kbbridge the registration's hs_token"
                .to_owned(),
        ));
    }
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        MatrixError::Invalid(format!(
            "cannot listen on {} (matrix.listen) for the homeserver: {e}; is another kbbridge \
             running?",
            config.listen
        ))
    })?;
    let filter = Filter {
        ours: Ours::new(client.bot().to_owned(), &config.ghost_prefix),
        rooms,
    };
    // The ping below starts the homeserver's recovery, whose end may skip a transaction.
    let gaps = GapCheck::new(Arc::new(MatrixClient::for_config(config)?));
    let receiver =
        Arc::new(Receiver::new(store, filter, config.hs_token.clone()).with_gap_check(gaps));
    let listening = Listening::start(listener, receiver)
        .map_err(|e| MatrixError::Invalid(format!("listener on {}: {e}", config.listen)))?;
    announce(client, listening.addr()).await;
    Ok(listening)
}

/// Pings the homeserver once the listener is up.
async fn announce(client: &MatrixClient, addr: SocketAddr) {
    match ping_homeserver(client).await {
        Ok(took) => {
            info!(addr = %addr, took_ms = took.as_millis(), "homeserver pinged; it sends what it queued")
        }
        Err(e) => warn!(
            addr = %addr, error = %e,
            "the homeserver could not ping kbbridge: check that the registration's url points at matrix.listen; it will retry sending by itself"
        ),
    }
}
