//! The link holders: each link's lease taken by one instance, which relays the link's waiting
//! events from the hand-off.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Wake, decode};
use crate::{
    Report,
    lease::LeaseGuard,
    relay::{Queued, Relay, RelayError, RelayLink},
    store::StoreError,
};

/// How the link holders run.
#[derive(Clone, Debug)]
pub struct HoldOptions {
    /// How often the hand-off is read without being woken (a missed notification, another
    /// process's write where there is no `LISTEN/NOTIFY`).
    pub poll: Duration,
    /// How often the relay's links are looked at again (links added or removed while running).
    pub rescan: Duration,
    /// Events read per query.
    pub batch: u32,
    /// How long done events are kept (a redelivery within it is still recognised).
    pub keep_done: Duration,
}

impl Default for HoldOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(200),
            rescan: Duration::from_secs(1),
            batch: 100,
            keep_done: Duration::from_secs(3600),
        }
    }
}

/// The lease of the link `name`: whoever holds it relays the link.
pub fn link_lease(name: &str) -> String {
    format!("relay:{name}")
}

/// For each link `relay` routes (links added or removed later included), takes the link's
/// lease when free and relays its waiting events while holding it (see the module); until
/// `stop`, when held leases are released so other instances take over at once.
///
/// # Errors
/// The first [`RelayError`] of a held link (a target failing for good, the store failing);
/// the other links are stopped.
pub async fn hold_links(
    relay: Arc<Relay>,
    wake: Wake,
    options: HoldOptions,
    stop: CancellationToken,
) -> Result<(), RelayError> {
    let mut held: HashMap<Arc<str>, (Vec<crate::ChatRef>, CancellationToken)> = HashMap::new();
    let mut tasks: JoinSet<(Arc<str>, Result<(), RelayError>)> = JoinSet::new();
    let mut rescan = tokio::time::interval(options.rescan);
    let mut prune = tokio::time::interval(options.keep_done.max(Duration::from_secs(60)));
    let result = loop {
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            _ = rescan.tick() => {
                let links = relay.links();
                held.retain(|name, (chats, token)| {
                    let kept = links.iter().any(|l| &l.name == name && &l.chats == chats);
                    if !kept {
                        token.cancel();
                    }
                    kept
                });
                for link in links {
                    if held.contains_key(&link.name) {
                        continue;
                    }
                    let token = stop.child_token();
                    held.insert(link.name.clone(), (link.chats.clone(), token.clone()));
                    let (relay, wake, options) = (Arc::clone(&relay), wake.clone(), options.clone());
                    tasks.spawn(async move {
                        let name = link.name.clone();
                        (name, hold_link(relay, link, wake, options, token).await)
                    });
                }
            }
            _ = prune.tick() => {
                let before = chrono::Utc::now()
                    - chrono::Duration::from_std(options.keep_done).unwrap_or_default();
                if let Err(e) = relay.store().prune_relay_events(before).await {
                    warn!(error = %Report::new(&e), "cannot prune the hand-off; trying again later");
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => match done {
                Ok((_, Err(e))) => break Err(e),
                // Stopped (its link was removed or changed): the next rescan starts it again
                // if it is still routed.
                Ok((name, Ok(()))) => {
                    if held.get(&name).is_some_and(|(_, t)| t.is_cancelled()) {
                        held.remove(&name);
                    }
                }
                Err(e) => warn!(error = %e, "a link holder failed"),
            },
        }
    };
    for (_, token) in held.values() {
        token.cancel();
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((name, Err(e))) = done {
            warn!(link = %name, error = %Report::new(&e), "a link holder stopped");
        }
    }
    result
}

/// Holds the lease of `link` (waiting while another instance does) and relays it; takes the
/// lease again when it is lost; until `stop`.
async fn hold_link(
    relay: Arc<Relay>,
    link: RelayLink,
    wake: Wake,
    options: HoldOptions,
    stop: CancellationToken,
) -> Result<(), RelayError> {
    let name = link_lease(&link.name);
    let mut reported = false;
    loop {
        let acquired = LeaseGuard::acquire(
            relay.store(),
            &name,
            relay.lease_options(),
            &stop,
            |busy| {
                if !std::mem::replace(&mut reported, true) {
                    info!(link = %link.name, holder = %busy.holder, "link relayed by another instance");
                }
            },
        )
        .await?;
        let Some(guard) = acquired else {
            return Ok(());
        };
        reported = false;
        info!(link = %link.name, epoch = guard.lease().epoch, "holding link: relaying it here");
        let result = relay_held(&relay, &link, &guard, &wake, &options, &stop).await;
        if guard.lost().is_cancelled() {
            warn!(link = %link.name, "link lease lost: stopped relaying it here");
            drop(guard);
        } else {
            guard.release().await;
        }
        match result {
            Err(RelayError::Store(StoreError::LeaseLost { .. })) => {}
            Err(e) => return Err(e),
            Ok(()) if stop.is_cancelled() => return Ok(()),
            Ok(()) => {}
        }
    }
}

/// Relays the waiting events of `link` while `guard` holds its lease: until `stop`, the lease
/// is lost, or the link's relay fails.
async fn relay_held(
    relay: &Relay,
    link: &RelayLink,
    guard: &LeaseGuard,
    wake: &Wake,
    options: &HoldOptions,
    stop: &CancellationToken,
) -> Result<(), RelayError> {
    let store = relay.store().clone();
    let engine = match relay.only(link) {
        Ok(engine) => Arc::new(engine),
        Err(e) => {
            warn!(link = %link.name, error = %e, "link not relayed");
            stop.cancelled().await;
            return Ok(());
        }
    };
    // Bounded like a source chat's queue: the relay slows the reading down, not memory.
    let limit = relay.queue();
    let (tx, rx) = mpsc::channel(limit);
    let relay_stop = CancellationToken::new();
    // In a set, so the link's relay ends with this holder even when it is dropped (aborted).
    let mut relay_task = JoinSet::new();
    relay_task.spawn(engine.run(rx, relay_stop.clone()));
    let mut woken = wake.subscribe();
    let mut poll = tokio::time::interval(options.poll);
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut answers: JoinSet<(i64, bool)> = JoinSet::new();
    let lost = guard.lost().clone();
    let result = 'relaying: loop {
        if in_flight.len() < limit {
            let waiting = store
                .relay_events_waiting(&link.chats, options.batch)
                .await?;
            for event in waiting {
                if in_flight.len() >= limit || lost.is_cancelled() || stop.is_cancelled() {
                    break;
                }
                if in_flight.contains(&event.id) {
                    continue;
                }
                let incoming = match decode(&event.payload) {
                    Ok(incoming) => incoming,
                    Err(e) => {
                        warn!(link = %link.name, event = event.id, error = %e,
                            "hand-off event unreadable (another kbbridge version?); skipped");
                        store.relay_event_done(event.id).await?;
                        continue;
                    }
                };
                let (queued, answer) = Queued::acked(incoming);
                if tx.send(queued).await.is_err() {
                    break 'relaying ended(relay_task.join_next().await);
                }
                in_flight.insert(event.id);
                let id = event.id;
                answers.spawn(async move { (id, answer.await.is_ok()) });
            }
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => break Ok(()),
            () = lost.cancelled() => break Err(StoreError::LeaseLost { name: guard.lease().name.clone() }.into()),
            Some(done) = relay_task.join_next() => break ended(Some(done)),
            Some(answered) = answers.join_next(), if !answers.is_empty() => {
                if let Ok((id, applied)) = answered {
                    in_flight.remove(&id);
                    if applied {
                        store.relay_event_done(id).await?;
                    }
                }
            }
            _ = woken.changed() => {}
            _ = poll.tick() => {}
        }
    };
    // At once: the next holder may start as soon as the lease is gone.
    relay_stop.cancel();
    drop(tx);
    while relay_task.join_next().await.is_some() {}
    debug!(link = %link.name, waiting = in_flight.len(), "stopped relaying link");
    result
}

/// What the link's relay task ended with; a panic is logged, and the link is taken again.
fn ended(
    done: Option<Result<Result<(), RelayError>, tokio::task::JoinError>>,
) -> Result<(), RelayError> {
    match done {
        Some(Ok(result)) => result,
        Some(Err(e)) => {
            warn!(error = %e, "a link's relay task failed");
            Ok(())
        }
        None => Ok(()),
    }
}
