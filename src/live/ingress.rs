//! The platforms' listeners of an instance sharing its database with others: each runs only
//! while this instance holds its ingress lease (`bridge_core::lease::run_while_holding`), and
//! hands its events to the hand-off writer instead of the relay.
//!
//! - Matrix: the appservice listener binds `[matrix] listen` (the one URL the homeserver
//!   pushes to) only in the holder of `matrix-ingress`; a new holder binds and pings the
//!   homeserver, which sends again what it could not deliver. Its inbox (in the shared
//!   database) keeps what the last holder received but had not handed over.
//! - Discord: the gateway session runs only in the holder of `discord-gateway:<guild>` (a
//!   second session on the bot's token would receive every event again); a new holder's
//!   first session catches each channel up from its stored live position.
//! - Keybase: api-listen and its catch-ups run only in the holder of
//!   `keybase-listen:<account>`; a new holder catches each chat up from its stored live
//!   position (saved by whichever instance relayed it), so nothing between is missed, and
//!   what is read twice the hand-off recognises.

use std::sync::Arc;

use adapter_discord::DiscordSink;
use adapter_keybase::KeybaseExport;
use adapter_matrix::MatrixSink;
use bridge_config::Config;
use bridge_core::{
    ChatRef, MappingStore, handoff,
    lease::{LeaseOptions, run_while_holding},
    relay::{Queued, Relay},
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{
    Growth, KeybaseSide, LiveChats, LiveSinks, keep_keybase, start_discord, start_keybase,
    start_matrix,
};

/// Runs the Matrix appservice listener of `chats` while this instance holds `matrix-ingress`,
/// until `stop` (or the listener fails).
pub fn matrix(
    config: &Config,
    store: &MappingStore,
    lease: &LeaseOptions,
    sink: Arc<MatrixSink>,
    chats: Vec<ChatRef>,
    out: mpsc::Sender<Queued>,
    stop: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    let (config, store, lease) = (config.clone(), store.clone(), lease.clone());
    tokio::spawn(async move {
        let start = |token: CancellationToken| {
            let (config, store, sink, chats, out) = (
                config.clone(),
                store.clone(),
                Arc::clone(&sink),
                chats.clone(),
                out.clone(),
            );
            async move {
                let live = start_matrix(&config, &store, &sink, &chats, out, token).await?;
                // The pump ends when `token` is cancelled (the lease lost, or shutdown).
                let pumped = live.task.await;
                // Unbound, so the next holder can listen on the same address.
                live.listening.stop().await;
                pumped.map_err(|e| anyhow::anyhow!("the Matrix inbox pump failed: {e}"))?
            }
        };
        run_while_holding(&store, handoff::MATRIX_INGRESS, &lease, &stop, start).await
    })
}

/// What the Keybase ingress needs.
pub struct KeybaseIngress {
    /// The mapping file.
    pub config: Config,
    /// The store.
    pub store: MappingStore,
    /// The lease's lifetime and this process's holder name.
    pub lease: LeaseOptions,
    /// The sinks (the feed shares the Keybase one's `chat api` process).
    pub sinks: LiveSinks,
    /// This instance's relay: the links grown on Keybase are routed through it.
    pub relay: Arc<Relay>,
    /// The export, for the chats' positions.
    pub export: Option<Arc<KeybaseExport>>,
    /// The chats to follow.
    pub chats: Vec<ChatRef>,
    /// The relaying pattern links, to link channels created while running.
    pub growth: Option<Growth>,
}

/// Runs the Keybase feed while this instance holds `keybase-listen:<account>`, until `stop`
/// (or the feed fails).
pub fn keybase(
    ingress: KeybaseIngress,
    out: mpsc::Sender<Queued>,
    stop: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    let account = ingress
        .config
        .keybase
        .as_ref()
        .and_then(|k| k.username.clone())
        .unwrap_or_else(|| "default".to_owned());
    let name = handoff::keybase_ingress(&account);
    let ingress = Arc::new(ingress);
    tokio::spawn(async move {
        let start = |token: CancellationToken| {
            let (ingress, out) = (Arc::clone(&ingress), out.clone());
            async move {
                let started = start_keybase(
                    &ingress.config,
                    &ingress.store,
                    &ingress.sinks.keybase,
                    &ingress.chats,
                    ingress.export.as_deref(),
                    out.clone(),
                    token.child_token(),
                )
                .await?;
                let side = KeybaseSide {
                    config: ingress.config.clone(),
                    store: ingress.store.clone(),
                    sinks: ingress.sinks.clone(),
                    relay: Arc::clone(&ingress.relay),
                    // The other listeners' rooms and channels are their own (they may run in
                    // another instance).
                    chats: LiveChats::default(),
                    export: ingress.export.clone(),
                    out,
                    stop: token,
                };
                // No reload asks for feed changes in shared mode: the sender is dropped.
                let (_, changes) = mpsc::channel(1);
                keep_keybase(
                    side,
                    started,
                    ingress.chats.clone(),
                    ingress.growth.clone(),
                    changes,
                )
                .await
            }
        };
        run_while_holding(&ingress.store, &name, &ingress.lease, &stop, start).await
    })
}

/// Runs the Discord gateway for `chats` while this instance holds `discord-gateway:<guild>`,
/// until `stop` (or the gateway fails for good).
pub fn discord(
    store: &MappingStore,
    lease: &LeaseOptions,
    guild: u64,
    sink: Arc<DiscordSink>,
    chats: Vec<ChatRef>,
    out: mpsc::Sender<Queued>,
    stop: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    let (store, lease) = (store.clone(), lease.clone());
    let name = format!("discord-gateway:{guild}");
    tokio::spawn(async move {
        let start = |token: CancellationToken| {
            let (sink, chats, out) = (Arc::clone(&sink), chats.clone(), out.clone());
            async move {
                let live = start_discord(&sink, &chats, out, token);
                live.task
                    .await
                    .map_err(|e| anyhow::anyhow!("the Discord side failed: {e}"))?
            }
        };
        run_while_holding(&store, &name, &lease, &stop, start).await
    })
}
