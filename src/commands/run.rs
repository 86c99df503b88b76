//! `kbbridge run`: the backfill of the links that ask for one, and the live relay of those that
//! relay, until stopped (see `crate::live` for the order of a start).

use std::{process::ExitCode, sync::Arc};

use bridge_config::Config;
use bridge_core::{
    ChatRef, MappingStore, Platform, Report,
    backfill::JobOutcome,
    links::Link,
    relay::{Relay, RelayLink, RelayOptions, Router},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    admin::{Admin, Readiness},
    cli::LinkFilter,
    commands::{backfill, report},
    live::{self, Growth, KeybaseSide, LiveSinks},
    logging::Display,
    patterns::Expansion,
    wiring,
};

/// Events waiting for the relay, from all live sources.
const QUEUE: usize = 1024;

/// Backfills, then relays until `shutdown` (exit 0 after a clean stop) or until a part of the
/// relay fails for good (an error saying which and what to do).
///
/// # Errors
/// When nothing could start (config, export, database, a sink, a listener), or the relay
/// stopped on an error.
pub async fn run(
    config: &Config,
    expansion: &Expansion,
    filter: &LinkFilter,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &filter.links)?;
    let relaying: Vec<&Link> = links.iter().copied().filter(|l| l.mode.relays()).collect();
    if relaying.is_empty() {
        info!("no link relays (mode = \"relay\" or \"both\"): backfilling only");
        return backfill::run(config, filter, display, shutdown).await;
    }
    let store = wiring::open_store(config).await?;
    let growth = growth(config, expansion, filter);
    // Up before the long parts (setup, backfill), so /health and /ready answer through them.
    let readiness = Readiness::default();
    let admin = match &config.admin {
        Some(section) => {
            let export = match config.keybase.as_ref().and_then(|k| k.export.as_ref()) {
                Some(_) => Some(wiring::open_export(config)?),
                None => None,
            };
            Some(Admin::start(section, store.clone(), export, readiness.clone()).await?)
        }
        None => None,
    };
    let result = relay(
        config,
        &links,
        &relaying,
        &store,
        growth,
        &readiness,
        &filter.links,
        display,
        shutdown,
    )
    .await;
    if let Some(admin) = admin {
        admin.stop().await;
    }
    store.close().await;
    result
}

/// The relaying pattern links, to link the channels created on Keybase while kbbridge runs
/// (none when `--link` narrows the run).
fn growth(config: &Config, expansion: &Expansion, filter: &LinkFilter) -> Option<Growth> {
    let templates: Vec<_> = expansion
        .patterns
        .iter()
        .map(|e| e.template.clone())
        .filter(|t| t.link.mode.relays())
        .filter(|t| filter.links.is_empty() || filter.links.contains(&t.link.name))
        .collect();
    if templates.is_empty() {
        return None;
    }
    let mut known = expansion.reserved.clone();
    known.extend(config.links.iter().map(|l| l.link.source.chat.clone()));
    Some(Growth { templates, known })
}

#[allow(clippy::too_many_arguments)]
async fn relay(
    config: &Config,
    links: &[&Link],
    relaying: &[&Link],
    store: &MappingStore,
    growth: Option<Growth>,
    readiness: &Readiness,
    names: &[String],
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    // Several instances on one database: `live::shared` runs this instance's share.
    if config.shared {
        let shared = live::shared::relay(
            config, links, relaying, store, growth, readiness, display, shutdown,
        );
        return shared.await;
    }
    readiness.down("relay", "setting up the links' chats");
    // Watched from the start: a SIGHUP during the setup or the backfill is taken once relaying
    // (by default it would end the process).
    let mut hangups = hangups();
    let export = match config.keybase.as_ref().and_then(|k| k.export.as_ref()) {
        Some(_) => Some(wiring::open_export(config)?),
        None => None,
    };
    let sinks = LiveSinks::build(config, relaying, store)?;
    let resolved = live::resolve_links(config, relaying, store, &sinks, export.as_deref()).await?;
    if resolved.is_empty() {
        anyhow::bail!("no link could be set up for the live relay; see the errors above");
    }
    let router = Router::new(&resolved)?;
    let options = RelayOptions {
        retry: config.backfill.retry.clone(),
        lease_ttl: config.backfill.lease_ttl,
        ..RelayOptions::default()
    };
    let engine = Arc::new(Relay::new(
        store.clone(),
        sinks.by_platform(),
        router,
        options,
    ));
    let stop = shutdown.child_token();
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut relay_task = tokio::spawn(Arc::clone(&engine).run(rx, stop.clone()));
    readiness.up("relay", format!("{} link(s)", resolved.len()));

    let matrix_chats: Vec<ChatRef> = resolved
        .iter()
        .flat_map(|l| l.chats.iter())
        .filter(|c| c.platform == Platform::Matrix)
        .cloned()
        .collect();
    let mut matrix = match (&sinks.matrix, matrix_chats.is_empty()) {
        (Some(sink), false) => Some(
            live::start_matrix(config, store, sink, &matrix_chats, tx.clone(), stop.clone())
                .await?,
        ),
        _ => None,
    };
    if let Some(m) = &matrix {
        readiness.up("matrix", format!("listening on {}", m.listening.addr()));
    }
    let discord_chats: Vec<ChatRef> = resolved
        .iter()
        .flat_map(|l| l.chats.iter())
        .filter(|c| c.platform == Platform::Discord)
        .cloned()
        .collect();
    let mut discord = match (&sinks.discord, discord_chats.is_empty()) {
        (Some(sink), false) => {
            readiness.down("discord", "connecting to the gateway");
            let mut started = live::start_discord(sink, &discord_chats, tx.clone(), stop.clone());
            // What Discord users say is relayed from here on; a token or intent problem ends
            // the start with its advice.
            if let Err(e) = started.wait_following().await {
                let _ = finish(stop, tx, relay_task, matrix, None, None).await;
                return Err(e);
            }
            readiness.up("discord", "gateway session up");
            Some(started)
        }
        _ => None,
    };
    let chats = live::LiveChats {
        rooms: matrix.as_ref().map(|m| m.rooms.clone()),
        channels: discord.as_ref().map(|d| d.channels.clone()),
    };

    // The history first: the Keybase feed starts after it, so live messages follow it.
    readiness.down("keybase", "waiting for the backfill to finish");
    let outcomes = backfill::backfill_links(config, links, store, display.clone(), stop.clone())
        .await?
        .unwrap_or_default();
    if !outcomes.is_empty() {
        report::print(store, &outcomes).await?;
    }
    if shutdown.is_cancelled() {
        return finish(stop, tx, relay_task, matrix, discord, None).await;
    }
    let keybase_chats = live_keybase_chats(&resolved, &outcomes);
    let mut feed = None;
    let keybase = if keybase_chats.is_empty() && growth.is_none() {
        None
    } else {
        let started = live::start_keybase(
            config,
            store,
            &sinks.keybase,
            &keybase_chats,
            export.as_deref(),
            tx.clone(),
            stop.child_token(),
        )
        .await?;
        let side = KeybaseSide {
            config: config.clone(),
            store: store.clone(),
            sinks: sinks.clone(),
            relay: Arc::clone(&engine),
            chats: chats.clone(),
            export: export.clone(),
            out: tx.clone(),
            stop: stop.clone(),
        };
        let (tx, rx) = mpsc::channel(8);
        feed = Some(tx);
        Some(tokio::spawn(live::keep_keybase(
            side,
            started,
            keybase_chats,
            growth,
            rx,
        )))
    };
    match &keybase {
        Some(_) => readiness.up("keybase", "api-listen started"),
        None => readiness.up("keybase", "no Keybase chat to follow"),
    }
    info!(
        links = resolved.len(),
        "relaying; stop with Ctrl-C or SIGTERM"
    );
    let service = crate::service::Notifier::ready(resolved.len());

    let reloader = live::Reloader {
        path: config.path.clone(),
        names: names.to_vec(),
        store: store.clone(),
        sinks: sinks.clone(),
        relay: Arc::clone(&engine),
        chats,
        feed,
        display,
        stop: stop.clone(),
    };
    let mut running: Vec<Link> = relaying.iter().map(|l| (*l).clone()).collect();

    // Runs until shutdown or until a part stops on its own (which is an error); a SIGHUP
    // reloads the mapping file's links.
    let mut keybase_task = keybase;
    let failure = loop {
        let matrix_task = matrix.as_mut().map(|m| &mut m.task);
        let discord_task = discord.as_mut().map(|d| &mut d.task);
        tokio::select! {
            // First: on shutdown every part ends too, and that is not a failure.
            biased;
            () = shutdown.cancelled() => break None,
            done = &mut relay_task => break Some(match done {
                Ok(Ok(())) => anyhow::anyhow!("the relay stopped"),
                Ok(Err(e)) => anyhow::Error::new(e).context("the relay stopped"),
                Err(e) => anyhow::anyhow!("the relay task failed: {e}"),
            }),
            done = ended(keybase_task.as_mut()) => {
                keybase_task = None;
                break Some(part_failure(done, "the Keybase live side"));
            }
            done = ended(matrix_task) => break Some(part_failure(done, "the Matrix live side")),
            done = ended(discord_task) => break Some(part_failure(done, "the Discord live side")),
            Some(()) = next_hangup(&mut hangups) => {
                info!(file = %config.path.display(), "SIGHUP: reading the mapping file again");
                if let Err(e) = reloader.reload(&mut running).await {
                    error!(error = %Report::new(e.as_ref()),
                        "the mapping file was refused; the running links stay as they were");
                }
            }
        }
    };
    service.stopping();
    readiness.down("relay", "stopping");
    match failure.filter(|_| !shutdown.is_cancelled()) {
        None => finish(stop, tx, relay_task, matrix, discord, keybase_task).await,
        Some(e) => {
            error!(error = %Report::new(e.as_ref()), "the live relay is stopping");
            let _ = finish(stop, tx, relay_task, matrix, discord, keybase_task).await;
            Err(e.context("restart kbbridge to resume: nothing applied is lost or repeated"))
        }
    }
}

/// The Keybase chats whose events are relayed: those of every resolved link, except a link
/// whose backfill did not finish (its live messages would land before its history).
pub(crate) fn live_keybase_chats(resolved: &[RelayLink], outcomes: &[JobOutcome]) -> Vec<ChatRef> {
    let mut chats = Vec::new();
    for link in resolved {
        let Some(source) = link.chats.iter().find(|c| c.platform == Platform::Keybase) else {
            continue;
        };
        let unfinished = outcomes
            .iter()
            .any(|o| o.link == link.name && o.result.is_err());
        if unfinished {
            warn!(link = %link.name,
                "the backfill of this link did not finish: its Keybase messages are not relayed \
                 until a run completes it (what other sides say still reaches Keybase)");
            continue;
        }
        chats.push(source.clone());
    }
    chats
}

/// SIGHUP, where the platform has it.
#[cfg(unix)]
pub(crate) fn hangups() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(error = %e, "cannot watch SIGHUP; reloading the mapping file needs a restart");
            None
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn hangups() -> Option<()> {
    None
}

/// The next SIGHUP; never, without the signal.
#[cfg(unix)]
pub(crate) async fn next_hangup(hangups: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hangups {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
pub(crate) async fn next_hangup(_: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}

/// `task`'s end; never, without a task.
async fn ended<T>(
    task: Option<&mut tokio::task::JoinHandle<T>>,
) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

fn part_failure(
    done: Result<anyhow::Result<()>, tokio::task::JoinError>,
    part: &str,
) -> anyhow::Error {
    match done {
        Ok(Ok(())) => anyhow::anyhow!("{part} stopped"),
        Ok(Err(e)) => e,
        Err(e) => anyhow::anyhow!("{part} failed: {e}"),
    }
}

/// Stops the sources, lets the relay finish the events it holds, then stops the listener.
async fn finish(
    stop: CancellationToken,
    tx: mpsc::Sender<bridge_core::relay::Queued>,
    relay_task: tokio::task::JoinHandle<Result<(), bridge_core::relay::RelayError>>,
    matrix: Option<live::MatrixLive>,
    discord: Option<live::DiscordLive>,
    keybase: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Result<ExitCode> {
    stop.cancel();
    drop(tx);
    if let Some(task) = keybase.filter(|t| !t.is_finished()) {
        let _ = task.await;
    }
    // A task that ended already was awaited by the caller.
    if let Some(d) = discord.filter(|d| !d.task.is_finished()) {
        let _ = d.task.await;
    }
    let mut listening = None;
    if let Some(m) = matrix {
        // A task that ended already was awaited by the caller.
        if !m.task.is_finished() {
            let _ = m.task.await;
        }
        listening = Some(m.listening);
    }
    if !relay_task.is_finished() {
        let _ = relay_task.await;
    }
    if let Some(l) = listening {
        l.stop().await;
    }
    info!("relay stopped");
    Ok(ExitCode::SUCCESS)
}
