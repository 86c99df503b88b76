//! The live relay engine: events from live sources applied to the other chats of their link.
//!
//! One ordered worker per source chat applies its events in the order they came; different
//! chats go in parallel. Each event is applied as [`Relay::apply`] does:
//! - **echo rules**: an event its source marks as kbbridge's own, a message that is itself a
//!   copy kbbridge made, and edits and deletes of copies are not relayed back;
//! - **messages** go through the delivery step the backfill uses (pending → send → sent per
//!   part, fenced by the link's lease), as live messages;
//! - **edits, deletes and reactions** are journalled per target chat (`op_copy`: pending →
//!   done), so a crash never applies one twice or loses it; a delete that arrives before its
//!   message leaves a tombstone, so the late message is not copied; a request the target
//!   refuses for good (rejected, or not supported there) is logged and skipped;
//! - **edits** rewrite every text part of a copy with its share of the new text, send the
//!   parts a longer text needs and delete those a shorter one no longer needs, leaving file
//!   parts alone (`edit.rs`, `copy_text`); an edit older than the one a copy shows is skipped
//!   ([`Applied::Superseded`]), so edits seen out of order end with the newest text;
//! - **reactions** are kept per source user (`reaction_copy`); on a target whose reactions are
//!   shared by the whole bridge they are reference-counted: the target reaction is added with
//!   the first user and taken back with the last. A reaction with an ID of its own is recorded
//!   under it (`reaction_source`): a delete of that ID, or a `ReactionRemoved` naming it, takes
//!   it back (Keybase and Matrix report un-reactions so);
//! - the chat's **live position** is saved after each event, so a restart catches up after it.
//!
//! **The reorder window** (`reorder.rs`). Sources reorder, so an edit or reaction may come
//! before its message. When its message is not copied anywhere (and is not itself a copy), the
//! worker holds it, with its answer, for up to [`RelayOptions::reorder_window`], while the
//! chat's other events go on. The message, once applied, releases what waits for it, right
//! after it and in arrival order; a window that ends first gives the event a last try, then
//! gives it up with a warning and answers [`Applied::GaveUp`]. A delete of the message answers
//! what waits for it [`Applied::Tombstoned`]. The live position is saved only up to the first
//! event still held. On shutdown (`shutdown` cancelled) held events are dropped unanswered and
//! their positions were never saved, so the source replays them after a restart; when the
//! queue closes instead, the worker finishes their windows first.

mod apply;
mod edit;
mod reactions;
mod reorder;
mod router;
mod worker;

pub use self::{
    apply::Applied,
    router::{RelayLink, RouteConflict, Router},
};

use std::{collections::BTreeMap, collections::HashMap, sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{
    adapter::{AdapterError, Incoming, Sink},
    backfill::link_lease_name,
    ids::{ChatRef, Platform},
    lease::{LeaseGuard, LeaseOptions},
    report::Report,
    retry::RetryPolicy,
    store::{MappingStore, StoreError},
};

/// How the relay runs.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// How long a link's lease lasts without renewal.
    pub lease_ttl: Duration,
    /// Events waiting per source chat before its source is slowed down.
    pub queue: usize,
    /// How long an edit or reaction that came before its message waits for it.
    pub reorder_window: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease_ttl: Duration::from_secs(30),
            queue: 256,
            reorder_window: Duration::from_secs(10),
        }
    }
}

/// Why the relay (or one chat's worker) stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The mapping store failed, or a link's lease was lost.
    #[error("mapping store")]
    Store(#[from] StoreError),
    /// A target failed for good, or kept failing past the retry policy.
    #[error("writing to {chat}")]
    Sink {
        /// The target chat.
        chat: ChatRef,
        /// The adapter's error.
        #[source]
        error: AdapterError,
    },
    /// No sink writes to this platform.
    #[error("no sink for {0}")]
    NoSink(Platform),
}

/// One event for the relay, with whom to tell once it is applied.
#[derive(Debug)]
pub struct Queued {
    /// The event.
    pub incoming: Incoming,
    /// Told what became of the event once it is applied and recorded (and its live position
    /// saved, unless an earlier event is still held), or deliberately given up; dropped
    /// unanswered when applying it failed or the relay stopped first (a held event included).
    /// A source that keeps events until they are handled (the Matrix inbox) marks them handled
    /// only on this answer.
    pub done: Option<oneshot::Sender<Applied>>,
}

impl From<Incoming> for Queued {
    fn from(incoming: Incoming) -> Self {
        Self {
            incoming,
            done: None,
        }
    }
}

impl Queued {
    /// `incoming`, and the receiver told once it is applied.
    pub fn acked(incoming: Incoming) -> (Self, oneshot::Receiver<Applied>) {
        let (tx, rx) = oneshot::channel();
        let queued = Self {
            incoming,
            done: Some(tx),
        };
        (queued, rx)
    }
}

/// The live relay, shared by every chat's worker.
pub struct Relay {
    store: MappingStore,
    sinks: BTreeMap<Platform, Arc<dyn Sink>>,
    /// Behind a lock: links are added while the relay runs (a channel created on Keybase).
    router: std::sync::RwLock<Router>,
    options: RelayOptions,
    lease: LeaseOptions,
}

/// The link leases one chat's worker holds, by target platform, taken at first use.
#[derive(Default)]
pub struct Leases(HashMap<Platform, LeaseGuard>);

impl Relay {
    /// A relay writing through `sinks` for the links `router` knows.
    pub fn new(
        store: MappingStore,
        sinks: BTreeMap<Platform, Arc<dyn Sink>>,
        router: Router,
        options: RelayOptions,
    ) -> Self {
        let lease = LeaseOptions {
            ttl: options.lease_ttl,
            ..LeaseOptions::default()
        };
        Self {
            store,
            sinks,
            router: std::sync::RwLock::new(router),
            options,
            lease,
        }
    }

    /// Relays `link` from now on (a chat created while the relay runs).
    ///
    /// # Errors
    /// [`RouteConflict`] when one of its chats is already relayed by another link.
    pub fn add_link(&self, link: &RelayLink) -> Result<(), RouteConflict> {
        self.router
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(link)
    }

    /// Stops relaying the link named `name` (events already applied stay; new events of its
    /// chats are not relayed); the chats it had.
    pub fn remove_link(&self, name: &str) -> Vec<ChatRef> {
        self.router
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name)
    }

    /// Every link this relay routes now.
    pub fn links(&self) -> Vec<RelayLink> {
        self.router
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .links()
    }

    /// A relay of `link` alone, writing with this relay's store, sinks, options and lease
    /// holder: what an instance runs for a link it holds (see `crate::handoff`).
    ///
    /// # Errors
    /// [`RouteConflict`] when `link` names one chat twice.
    pub fn only(&self, link: &RelayLink) -> Result<Self, RouteConflict> {
        Ok(Self {
            store: self.store.clone(),
            sinks: self.sinks.clone(),
            router: std::sync::RwLock::new(Router::new(std::slice::from_ref(link))?),
            options: self.options.clone(),
            lease: self.lease.clone(),
        })
    }

    /// How many events a source chat's worker queues before its source is slowed down.
    pub fn queue(&self) -> usize {
        self.options.queue.max(1)
    }

    /// The store this relay records in.
    pub fn store(&self) -> &MappingStore {
        &self.store
    }

    /// The options of the leases this relay takes (their lifetime, its holder name).
    pub fn lease_options(&self) -> &LeaseOptions {
        &self.lease
    }

    /// Takes leases under `holder` instead of this process's own name (tests that play
    /// several processes in one).
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.lease.holder = holder.into();
        self
    }

    /// Applies the events of `rx`, in order per source chat, until `rx` closes (then the
    /// queued and held events are finished) or `shutdown` is cancelled (held events are then
    /// dropped unanswered, for the source to replay).
    ///
    /// # Errors
    /// The first [`RelayError`] of a chat's worker; the other workers are stopped.
    pub async fn run(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Queued>,
        shutdown: CancellationToken,
    ) -> Result<(), RelayError> {
        let mut workers: HashMap<ChatRef, mpsc::Sender<Queued>> = HashMap::new();
        let mut tasks: JoinSet<Result<(), RelayError>> = JoinSet::new();
        let stop = shutdown.child_token();
        let result = loop {
            tokio::select! {
                () = stop.cancelled() => break Ok(()),
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(Err(e)) = done {
                        break Err(e);
                    }
                }
                next = rx.recv() => {
                    let Some(queued) = next else { break Ok(()) };
                    let chat = queued.incoming.event.subject().chat_ref();
                    let tx = workers.entry(chat.clone()).or_insert_with(|| {
                        let (tx, rx) = mpsc::channel(self.options.queue.max(1));
                        tasks.spawn(Arc::clone(&self).worker(chat, rx, stop.clone()));
                        tx
                    });
                    // A worker that stopped has reported its error through `tasks`.
                    if tx.send(queued).await.is_ok() {
                        crate::telemetry::queued(1.0);
                    }
                }
            }
        };
        // Closing the queues lets each worker finish what it holds; a failure stops them all.
        drop(workers);
        if result.is_err() {
            stop.cancel();
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                warn!(error = %Report::new(&e), "a relay worker stopped");
            }
        }
        result
    }

    /// The lease for writing from `from` into `platform`, taken (waiting if another process
    /// holds it) at first use and kept.
    async fn lease<'l>(
        &self,
        leases: &'l mut Leases,
        from: &ChatRef,
        platform: Platform,
    ) -> Result<&'l LeaseGuard, RelayError> {
        if let Some(guard) = leases.0.get(&platform) {
            if guard.lost().is_cancelled() {
                return Err(StoreError::LeaseLost {
                    name: guard.lease().name.clone(),
                }
                .into());
            }
        } else {
            let name = link_lease_name(from, platform);
            let never = CancellationToken::new();
            let guard = LeaseGuard::acquire(&self.store, &name, &self.lease, &never, |busy| {
                warn!(lease = %busy.name, holder = %busy.holder,
                    "another kbbridge process relays this link; waiting for its lease");
            })
            .await?
            .ok_or(StoreError::LeaseLost { name })?;
            leases.0.insert(platform, guard);
        }
        Ok(&leases.0[&platform])
    }

    fn sink(&self, platform: Platform) -> Result<&Arc<dyn Sink>, RelayError> {
        self.sinks
            .get(&platform)
            .ok_or(RelayError::NoSink(platform))
    }
}

#[cfg(test)]
mod tests;
