//! PostgreSQL `LISTEN/NOTIFY`: link holders woken when another process handed an event over.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Wake;
use crate::store::{HANDOFF_CHANNEL, redact_url};

/// How long to wait before listening again after the connection failed (holders poll
/// meanwhile, so nothing waits longer than a poll).
const RETRY: Duration = Duration::from_secs(2);

/// Listens on the PostgreSQL database `url` for events handed over by any process, and wakes
/// `wake` at each, until `stop`.
pub async fn listen_notifications(url: String, wake: Wake, stop: CancellationToken) {
    loop {
        let failed = tokio::select! {
            () = stop.cancelled() => return,
            e = listen_once(&url, &wake) => e,
        };
        warn!(database = %redact_url(&url), error = %failed,
            "hand-off notifications interrupted; polling until they are back");
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Wakes `wake` at each notification until the connection fails; why it failed.
async fn listen_once(url: &str, wake: &Wake) -> sqlx::Error {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(e) => return e,
    };
    if let Err(e) = listener.listen(HANDOFF_CHANNEL).await {
        return e;
    }
    debug!(
        channel = HANDOFF_CHANNEL,
        "listening for hand-off notifications"
    );
    loop {
        if let Err(e) = listener.recv().await {
            return e;
        }
        wake.wake();
    }
}
