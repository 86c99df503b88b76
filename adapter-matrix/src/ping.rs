//! A one-shot appservice listener for the homeserver's ping (`kbbridge check`).
//!
//! Asked with `POST /_matrix/client/v1/appservice/{id}/ping`, the homeserver calls the
//! registration's `url` with `POST /_matrix/app/v1/ping`, authenticated with the `hs_token`.
//! Answering that call here, and comparing the token it carries with `matrix.hs_token` (in
//! constant time), proves both tokens and the URL in one round trip.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bridge_core::Secret;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::{net::TcpListener, task::JoinHandle};

/// What the homeserver's ping brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Whether it carried `matrix.hs_token` (`None`: no token at all).
    pub token_matches: Option<bool>,
    /// The `transaction_id` of its body, if any.
    pub transaction_id: Option<String>,
}

struct PingState {
    hs_token: Secret,
    received: Mutex<Option<Received>>,
}

/// A listener answering the homeserver's pings until dropped.
pub struct PingListener {
    state: Arc<PingState>,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

impl PingListener {
    /// Listens on `addr` (the registration's `url` must point here) for pings signed with
    /// `hs_token`.
    ///
    /// # Errors
    /// When the address cannot be bound (in use, not local, no permission).
    pub async fn bind(addr: SocketAddr, hs_token: Secret) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(PingState {
            hs_token,
            received: Mutex::new(None),
        });
        // One handler for every path: a registration `url` with a path prefix still works.
        let router = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::debug!(error = %error, "ping listener stopped");
            }
        });
        Ok(Self { state, task, addr })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The last ping received, if any.
    pub fn received(&self) -> Option<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for PingListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `Bearer` token of an `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    value.strip_prefix(b"Bearer ")
}

async fn answer(State(state): State<Arc<PingState>>, req: Request) -> Response {
    if req.method() != Method::POST || !req.uri().path().ends_with("/_matrix/app/v1/ping") {
        let body = json!({ "errcode": "M_UNRECOGNIZED", "error": "only the ping is answered" });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    let token_matches =
        bearer(req.headers()).map(|t| bool::from(t.ct_eq(state.hs_token.expose().as_bytes())));
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let transaction_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("transaction_id")?.as_str().map(str::to_owned));
    *state
        .received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Received {
        token_matches,
        transaction_id,
    });
    match token_matches {
        Some(true) => Json(json!({})).into_response(),
        Some(false) => {
            let body = json!({ "errcode": "M_FORBIDDEN", "error": "wrong hs_token" });
            (StatusCode::FORBIDDEN, Json(body)).into_response()
        }
        None => {
            let body = json!({ "errcode": "M_UNAUTHORIZED", "error": "no hs_token" });
            (StatusCode::UNAUTHORIZED, Json(body)).into_response()
        }
    }
}
