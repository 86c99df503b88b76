//! The admin listener of `kbbridge run` (`[admin] listen`): what an operator's tooling asks a
//! running relay.
//!
//! - `GET /health`: 200 while the process serves; no token.
//! - `GET /ready`: 200 when the database answers and every part of the relay is up (the
//!   listeners connected, the relay's workers running), else 503 naming what is not; JSON.
//! - `GET /metrics`: Prometheus text: messages by link, direction and outcome, parts sent and
//!   their send time, retries and 429s by target, relay events and lag, queue depth, leases
//!   held, build info.
//! - `GET /api/v1/status`: what `kbbridge status` prints, as JSON: each job's counts and state,
//!   the leases held and by whom.
//! - `GET /api/v1/chats`, `/messages`, `/stats`, `/copies`: the read-only REST API over the
//!   export and the mapping store (`api.rs`), documented by `/api/v1/openapi.json`.
//!
//! Everything but `/health` needs `Authorization: Bearer <[admin] token>` (compared in constant
//! time; 401 otherwise).
//!
//! Files: `auth.rs` (the token check), `readiness.rs` (what the parts report), `api.rs` and
//! `openapi.json` (the REST API and its description).

mod api;
mod auth;
mod readiness;

pub use readiness::Readiness;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use bridge_config::admin::AdminConfig;
use bridge_core::MappingStore;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::commands::status;

/// Histogram buckets for the `*_seconds` metrics: from a fast local send to a long wait.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// Installs the process's metrics recorder (once) and returns its handle. Later installs (a
/// second `run` in one process, tests) reuse the first.
///
/// # Errors
/// When the recorder cannot be built.
pub fn metrics() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        warn!("a metrics recorder was installed already; /metrics shows what it records");
    }
    metrics::gauge!("kbbridge_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// What the handlers read.
struct AdminState {
    store: MappingStore,
    export: Option<Arc<adapter_keybase::KeybaseExport>>,
    readiness: Readiness,
    metrics: PrometheusHandle,
    token: auth::Token,
}

/// The running listener.
pub struct Admin {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

impl Admin {
    /// Listens on `config.listen`.
    ///
    /// # Errors
    /// When the address cannot be bound (the message says which and why).
    pub async fn start(
        config: &AdminConfig,
        store: MappingStore,
        export: Option<Arc<adapter_keybase::KeybaseExport>>,
        readiness: Readiness,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (admin.listen): {e}; is another kbbridge running?",
                config.listen
            )
        })?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AdminState {
            store,
            export,
            readiness,
            metrics: metrics()?,
            token: auth::Token::new(config.token.clone()),
        });
        let stop = CancellationToken::new();
        let serving = axum::serve(listener, router(state))
            .with_graceful_shutdown(stop.clone().cancelled_owned());
        let task = tokio::spawn(async move {
            if let Err(e) = serving.await {
                warn!(addr = %addr, error = %e, "admin listener stopped");
            }
        });
        info!(addr = %addr, "admin listener up (/health, /ready, /metrics, /api/v1/…)");
        Ok(Self { addr, task, stop })
    }

    /// Stops listening after the requests in progress.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

fn router(state: Arc<AdminState>) -> Router {
    let guarded = Router::new()
        .route("/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/chats", get(api::chats))
        .route("/api/v1/messages", get(api::messages))
        .route("/api/v1/stats", get(api::stats))
        .route("/api/v1/copies", get(api::copies))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ));
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .merge(guarded)
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.token.allows(request.headers()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token (admin.token)\n",
        )
            .into_response()
    }
}

async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "detail": bridge_core::Report::new(&e).to_string()}),
    };
    let parts = state.readiness.parts();
    let ok = database["ok"] == true && parts.values().all(|p| p.ok);
    let body = json!({ "ready": ok, "database": database, "parts": parts });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn render_metrics(State(state): State<Arc<AdminState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn api_status(State(state): State<Arc<AdminState>>) -> Response {
    match status::snapshot(&state.store).await {
        Ok((jobs, leases)) => Json(json!({ "jobs": jobs, "leases": leases })).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": bridge_core::Report::new(e.as_ref()).to_string() })),
        )
            .into_response(),
    }
}
