//! `kbbridge run` with `[database] shared = true`: one of several instances on one PostgreSQL
//! database (relay.md §5, `bridge_core::handoff`).
//!
//! Start order, as for a single instance: the links' chats resolved; this instance's link
//! holders (each link relayed by the one instance holding `relay:<link>`); the hand-off writer;
//! the Matrix listener under its ingress lease; the backfill; the Keybase feed under its
//! ingress lease. The listeners hand their events to the writer, which stores them for
//! whichever instance holds their link. Each instance runs every part, and the leases decide
//! which parts work: an instance killed is replaced within the lease time
//! (`[backfill] lease_seconds`), a stopped one at once (it releases its leases).
//!
//! The Discord gateway runs under its ingress lease too (`discord-gateway:<guild>`).
//!
//! Not in shared mode (yet): reloading the mapping file on SIGHUP (restart the instances).

use std::{process::ExitCode, sync::Arc};

use bridge_config::Config;
use bridge_core::{
    ChatRef, MappingStore, Platform, Report,
    handoff::{self, HoldOptions, Wake},
    lease::LeaseOptions,
    links::Link,
    relay::{Relay, RelayOptions, Router},
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{
    Growth, LiveSinks,
    ingress::{self, KeybaseIngress},
    resolve_links,
};
use crate::{
    admin::Readiness,
    commands::{backfill, report, run},
    logging::Display,
    wiring,
};

/// Events waiting for the hand-off writer, from this instance's listeners.
const QUEUE: usize = 1024;

/// Runs this instance's share of the relay until `shutdown` (exit 0) or until a part fails
/// for good (an error saying which).
///
/// # Errors
/// When nothing could start (export, database, a sink), or a part stopped on an error.
#[allow(clippy::too_many_arguments)]
pub async fn relay(
    config: &Config,
    links: &[&Link],
    relaying: &[&Link],
    store: &MappingStore,
    growth: Option<Growth>,
    readiness: &Readiness,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    readiness.down("relay", "setting up the links' chats");
    let mut hangups = run::hangups();
    let export = match config.keybase.as_ref().and_then(|k| k.export.as_ref()) {
        Some(_) => Some(wiring::open_export(config)?),
        None => None,
    };
    let sinks = LiveSinks::build(config, relaying, store)?;
    let resolved = resolve_links(config, relaying, store, &sinks, export.as_deref()).await?;
    if resolved.is_empty() {
        anyhow::bail!("no link could be set up for the live relay; see the errors above");
    }
    let options = RelayOptions {
        retry: config.backfill.retry.clone(),
        lease_ttl: config.backfill.lease_ttl,
        ..RelayOptions::default()
    };
    let lease = LeaseOptions {
        ttl: options.lease_ttl,
        ..LeaseOptions::default()
    };
    let engine = Arc::new(Relay::new(
        store.clone(),
        sinks.by_platform(),
        Router::new(&resolved)?,
        options,
    ));
    let stop = shutdown.child_token();
    let wake = Wake::default();
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut parts = Parts {
        holders: Some(tokio::spawn(handoff::hold_links(
            Arc::clone(&engine),
            wake.clone(),
            HoldOptions::default(),
            stop.clone(),
        ))),
        notified: Some(tokio::spawn(handoff::listen_notifications(
            config.database_url.clone(),
            wake.clone(),
            stop.clone(),
        ))),
        writer: Some(tokio::spawn(handoff::write(store.clone(), rx, wake))),
        out: Some(tx.clone()),
        ..Parts::default()
    };
    readiness.up(
        "relay",
        format!("{} link(s), shared with other instances", resolved.len()),
    );

    let matrix_chats: Vec<ChatRef> = resolved
        .iter()
        .flat_map(|l| l.chats.iter())
        .filter(|c| c.platform == Platform::Matrix)
        .cloned()
        .collect();
    if let (Some(sink), false) = (&sinks.matrix, matrix_chats.is_empty()) {
        parts.matrix = Some(ingress::matrix(
            config,
            store,
            &lease,
            Arc::clone(sink),
            matrix_chats,
            tx.clone(),
            stop.clone(),
        ));
        readiness.up("matrix", "listening in the instance holding matrix-ingress");
    }
    let discord_chats: Vec<ChatRef> = resolved
        .iter()
        .flat_map(|l| l.chats.iter())
        .filter(|c| c.platform == Platform::Discord)
        .cloned()
        .collect();
    if let (Some(sink), false, Some(section)) =
        (&sinks.discord, discord_chats.is_empty(), &config.discord)
    {
        parts.discord = Some(ingress::discord(
            store,
            &lease,
            section.guild_id.get(),
            Arc::clone(sink),
            discord_chats,
            tx.clone(),
            stop.clone(),
        ));
        readiness.up(
            "discord",
            "connected in the instance holding discord-gateway",
        );
    }

    readiness.down("keybase", "waiting for the backfill to finish");
    let outcomes = backfill::backfill_links(config, links, store, display, stop.clone())
        .await?
        .unwrap_or_default();
    if !outcomes.is_empty() {
        report::print(store, &outcomes).await?;
    }
    if !shutdown.is_cancelled() {
        let chats = run::live_keybase_chats(&resolved, &outcomes);
        if !chats.is_empty() || growth.is_some() {
            let keybase = KeybaseIngress {
                config: config.clone(),
                store: store.clone(),
                lease,
                sinks: sinks.clone(),
                relay: Arc::clone(&engine),
                export: export.clone(),
                chats,
                growth,
            };
            parts.keybase = Some(ingress::keybase(keybase, tx.clone(), stop.clone()));
        }
        readiness.up(
            "keybase",
            "following in the instance holding its ingress lease",
        );
        info!(
            links = resolved.len(),
            "relaying, shared with the other instances on this database; stop with Ctrl-C or SIGTERM"
        );
    }
    let service = crate::service::Notifier::ready(resolved.len());
    drop(tx);
    // Until shutdown (`None`) or until a part ends on its own, which is a failure.
    let failure = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break None,
            failed = parts.failed() => break Some(failed),
            Some(()) = run::next_hangup(&mut hangups) => {
                warn!("SIGHUP: the mapping file is not reloaded when instances share the \
                    database; restart the instances one by one to apply it");
            }
        }
    };
    service.stopping();
    readiness.down("relay", "stopping");
    stop.cancel();
    parts.finish().await;
    info!("relay stopped");
    match failure.filter(|_| !shutdown.is_cancelled()) {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => {
            error!(error = %Report::new(e.as_ref()), "this instance is stopping");
            Err(e.context(
                "restart kbbridge to resume: the other instances took over its links meanwhile",
            ))
        }
    }
}

/// The running parts of an instance.
#[derive(Default)]
struct Parts {
    holders: Option<JoinHandle<Result<(), bridge_core::relay::RelayError>>>,
    writer: Option<JoinHandle<Result<(), bridge_core::StoreError>>>,
    notified: Option<JoinHandle<()>>,
    matrix: Option<JoinHandle<anyhow::Result<()>>>,
    discord: Option<JoinHandle<anyhow::Result<()>>>,
    keybase: Option<JoinHandle<anyhow::Result<()>>>,
    /// Keeps the writer's queue open while the listeners (which hold the other senders) may
    /// come and go.
    out: Option<mpsc::Sender<bridge_core::relay::Queued>>,
}

impl Parts {
    /// The first part to end on its own, which is a failure.
    async fn failed(&mut self) -> anyhow::Error {
        tokio::select! {
            done = ended(&mut self.holders) => failure(done, "the link holders"),
            done = ended(&mut self.writer) => failure(done, "the hand-off writer"),
            done = ended(&mut self.matrix) => failure(done, "the Matrix live side"),
            done = ended(&mut self.discord) => failure(done, "the Discord live side"),
            done = ended(&mut self.keybase) => failure(done, "the Keybase live side"),
        }
    }

    /// Stops the listeners first (they release their ingress leases), then the writer (it
    /// stores what they handed over), then the link holders (they release their links).
    async fn finish(self) {
        for task in [self.keybase, self.matrix, self.discord]
            .into_iter()
            .flatten()
        {
            if !task.is_finished() {
                let _ = task.await;
            }
        }
        drop(self.out);
        if let Some(task) = self.writer.filter(|t| !t.is_finished()) {
            let _ = task.await;
        }
        if let Some(task) = self.holders.filter(|t| !t.is_finished()) {
            let _ = task.await;
        }
        if let Some(task) = self.notified {
            task.abort();
        }
    }
}

/// `task`'s end (the slot is emptied then); never, without a task.
async fn ended<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    let Some(handle) = task.as_mut() else {
        return std::future::pending().await;
    };
    let done = handle.await;
    *task = None;
    done
}

fn failure<E: Into<anyhow::Error>>(
    done: Result<Result<(), E>, tokio::task::JoinError>,
    part: &str,
) -> anyhow::Error {
    match done {
        Ok(Ok(())) => anyhow::anyhow!("{part} stopped"),
        Ok(Err(e)) => e.into().context(format!("{part} stopped")),
        Err(e) => anyhow::anyhow!("{part} failed: {e}"),
    }
}
