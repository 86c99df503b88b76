//! The listener the homeserver calls (axum, one router).
//!
//! - `PUT /_matrix/app/v1/transactions/{txnId}`: the events are filtered and written to the
//!   inbox (with the transaction's ID, in one database transaction) and only then answered
//!   `200 {}`. A transaction taken before is answered `200 {}` without effect. A store failure
//!   is a 500: the homeserver keeps the transaction and sends it again.
//! - `POST /_matrix/app/v1/ping`: `200 {}`.
//! - `GET /_matrix/app/v1/users/{userId}` and `/rooms/{alias}`: `404 M_NOT_FOUND` (kbbridge
//!   makes its ghosts and rooms itself, never on demand).
//!
//! Every one of them needs the `hs_token` first (`auth.rs`): none is 401, another is 403, and
//! then the body is not even read. A body over [`BODY_LIMIT`] is a 413.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use bridge_core::{MappingStore, Secret, store::TxnOutcome};
use ruma::api::{IncomingRequestExt as _, appservice::event::push_events};
use serde_json::json;
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{
    auth::{Denied, TokenCheck},
    gaps::GapCheck,
    inbox::{self, Filter},
};

/// The largest request body read: a transaction holds at most 100 events (Synapse), each at
/// most 64 KiB, plus what the homeserver adds around them.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What the listener needs: where to write, what to keep, which token to expect.
pub struct Receiver {
    store: MappingStore,
    filter: Filter,
    token: TokenCheck,
    arrivals: Arc<Notify>,
    gaps: Option<GapCheck>,
}

impl Receiver {
    /// Writes into `store`'s inbox the events `filter` keeps, from requests carrying
    /// `hs_token`.
    pub fn new(store: MappingStore, filter: Filter, hs_token: Secret) -> Self {
        Self {
            store,
            filter,
            token: TokenCheck::new(hs_token),
            arrivals: Arc::new(Notify::new()),
            gaps: None,
        }
    }

    /// Also takes the events the homeserver skipped, found by `gaps` (`gaps.rs`).
    #[must_use]
    pub fn with_gap_check(mut self, gaps: GapCheck) -> Self {
        self.gaps = Some(gaps);
        self
    }

    /// Notified each time a transaction puts new events into the inbox, so its reader wakes
    /// at once instead of polling (a permit is kept when nobody waits).
    pub fn arrivals(&self) -> Arc<Notify> {
        Arc::clone(&self.arrivals)
    }
}

/// The router of the appservice API.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/_matrix/app/v1/transactions/{txn_id}", put(transaction))
        .route("/_matrix/app/v1/ping", post(ping))
        .route("/_matrix/app/v1/users/{user_id}", get(not_found))
        .route("/_matrix/app/v1/rooms/{alias}", get(not_found))
        .fallback(unrecognized)
        .with_state(receiver)
}

/// The listener, running until [`Listening::stop`] or until dropped.
pub struct Listening {
    addr: SocketAddr,
    arrivals: Arc<Notify>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Listening {
    /// Serves `receiver` on `listener` until stopped.
    ///
    /// # Errors
    /// When the listener's address cannot be read.
    pub fn start(listener: TcpListener, receiver: Arc<Receiver>) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let arrivals = receiver.arrivals();
        let app = router(receiver);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                error!(addr = %addr, error = %e, "appservice listener stopped");
            }
        });
        info!(addr = %addr, "appservice listening");
        Ok(Self {
            addr,
            arrivals,
            shutdown,
            task,
        })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Notified when new events are in the inbox ([`Receiver::arrivals`]).
    pub fn arrivals(&self) -> Arc<Notify> {
        Arc::clone(&self.arrivals)
    }

    /// Stops listening, after the requests in progress are answered.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Err(e) = (&mut self.task).await {
            debug!(error = %e, "appservice listener task ended abnormally");
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn error(status: StatusCode, errcode: &str, text: &str) -> Response {
    (status, Json(json!({ "errcode": errcode, "error": text }))).into_response()
}

fn ok() -> Response {
    Json(json!({})).into_response()
}

/// The answer to a request without the right token, if it is one.
fn refusal(receiver: &Receiver, req: &Request) -> Option<Response> {
    let denied = receiver.token.check(req).err()?;
    warn!(path = %req.uri().path(), ?denied, "homeserver request refused: wrong or missing hs_token");
    Some(match denied {
        Denied::Missing => error(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", "no hs_token"),
        Denied::Wrong => error(StatusCode::FORBIDDEN, "M_FORBIDDEN", "wrong hs_token"),
    })
}

async fn transaction(
    State(receiver): State<Arc<Receiver>>,
    Path(txn_id): Path<String>,
    req: Request,
) -> Response {
    if let Some(refused) = refusal(&receiver, &req) {
        return refused;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        warn!(txn = %txn_id, limit = BODY_LIMIT, "transaction body too large or cut off");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "M_TOO_LARGE",
            "transaction body too large",
        );
    };
    let request = http::Request::from_parts(parts, bytes.as_ref());
    let pushed = match push_events::v1::Request::try_from_http_request(request, &[&txn_id]) {
        Ok(p) => p,
        Err(e) => {
            warn!(txn = %txn_id, error = %e, "unreadable transaction");
            return error(StatusCode::BAD_REQUEST, "M_BAD_JSON", &e.to_string());
        }
    };
    let gaps = receiver.gaps.as_ref();
    match inbox::take(
        &receiver.store,
        &receiver.filter,
        gaps,
        &txn_id,
        &pushed.events,
    )
    .await
    {
        Ok(TxnOutcome::Repeated) => {
            debug!(txn = %txn_id, "transaction already taken");
            ok()
        }
        Ok(TxnOutcome::Taken { stored, .. }) => {
            if stored > 0 {
                receiver.arrivals.notify_one();
            }
            ok()
        }
        Err(e) => {
            // Not acknowledged: the homeserver keeps the transaction and sends it again.
            error!(txn = %txn_id, error = %e, "cannot write the transaction to the inbox; the homeserver will send it again");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "cannot store the transaction",
            )
        }
    }
}

async fn ping(State(receiver): State<Arc<Receiver>>, req: Request) -> Response {
    if let Some(refused) = refusal(&receiver, &req) {
        return refused;
    }
    debug!("pinged by the homeserver");
    ok()
}

async fn not_found(State(receiver): State<Arc<Receiver>>, req: Request) -> Response {
    if let Some(refused) = refusal(&receiver, &req) {
        return refused;
    }
    error(
        StatusCode::NOT_FOUND,
        "M_NOT_FOUND",
        "kbbridge creates its users and rooms itself",
    )
}

async fn unrecognized() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "M_UNRECOGNIZED",
        "not an appservice endpoint kbbridge serves",
    )
}
