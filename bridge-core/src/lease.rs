//! Holding a store lease while work runs: acquire (or wait for) it, renew it in the
//! background, notice when it is lost, release it at the end.
//!
//! The store does the deciding (see `store/leases.rs`); this module keeps a lease alive for as
//! long as its [`LeaseGuard`] lives. A guard whose renewals fail (the database is unreachable,
//! or another process took the lease over) cancels [`LeaseGuard::lost`] *before* the lease can
//! have expired in the database, so the work stops while it is still the only writer.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tokio::{sync::OwnedMutexGuard, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::store::{Lease, LeaseInfo, MappingStore, StoreError};

/// How leases are held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseOptions {
    /// How long a lease lasts without renewal: after a holder dies (SIGKILL, power cut), the
    /// next process takes over after at most this long.
    pub ttl: Duration,
    /// Who this process is, in the `lease` table and in messages.
    pub holder: String,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            holder: process_holder().to_owned(),
        }
    }
}

impl LeaseOptions {
    /// How often a held lease is renewed: three chances before it would expire.
    fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// How long before the lease's expiry the holder considers it lost if it could not renew:
    /// the database's clock and this process's may differ a little, and a send in flight must
    /// end before another holder may start.
    fn margin(&self) -> Duration {
        self.ttl / 5
    }

    /// How often a busy lease is asked for again.
    fn poll_every(&self) -> Duration {
        (self.ttl / 6).clamp(Duration::from_millis(100), Duration::from_secs(2))
    }
}

/// This process's holder name: host, process ID and a random tag (a PID may be reused after a
/// restart, and containers often all run as PID 1).
pub fn process_holder() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let tag = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{host}/{}/{tag:08x}", std::process::id())
    })
}

/// One lock per (holder, lease name) of this process.
type LocalLocks = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// The lock that orders one holder's tasks on one lease name. The store lets a holder take
/// back a lease it left behind (a dropped task cannot release it, and must not make the next
/// task of the same process wait for its expiry), so inside a process this lock is what keeps
/// two tasks from holding one lease at once.
fn local_lock(holder: &str, name: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<LocalLocks>> = OnceLock::new();
    let locks = LOCKS.get_or_init(Mutex::default);
    // A poisoned map only means a panic elsewhere; its entries are still valid locks.
    let mut locks = locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        locks
            .entry((holder.to_owned(), name.to_owned()))
            .or_default(),
    )
}

/// A lease held for as long as this guard lives, renewed in the background.
pub struct LeaseGuard {
    lease: Lease,
    store: MappingStore,
    lost: CancellationToken,
    renewer: JoinHandle<()>,
    _local: OwnedMutexGuard<()>,
}

impl LeaseGuard {
    /// Takes the lease `name`, waiting while another process holds it; `on_wait` is told who
    /// holds it each time it is found busy. `None` when `stop` is cancelled first.
    ///
    /// # Errors
    /// [`StoreError`] if the database fails.
    pub async fn acquire(
        store: &MappingStore,
        name: &str,
        options: &LeaseOptions,
        stop: &CancellationToken,
        mut on_wait: impl FnMut(&LeaseInfo),
    ) -> Result<Option<Self>, StoreError> {
        let local = tokio::select! {
            () = stop.cancelled() => return Ok(None),
            local = local_lock(&options.holder, name).lock_owned() => local,
        };
        loop {
            let asked = Instant::now();
            match store
                .acquire_lease(name, &options.holder, options.ttl)
                .await
            {
                Ok(Ok(lease)) => {
                    debug!(lease = %lease.name, epoch = lease.epoch, "lease taken");
                    return Ok(Some(Self::hold(store, lease, options, asked, local)));
                }
                Ok(Err(busy)) => on_wait(&busy),
                // A release between the two queries of `acquire_lease`: just ask again.
                Err(StoreError::Corrupt(_)) => {}
                Err(e) => return Err(e),
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(None),
                () = tokio::time::sleep(options.poll_every()) => {}
            }
        }
    }

    fn hold(
        store: &MappingStore,
        lease: Lease,
        options: &LeaseOptions,
        asked: Instant,
        local: OwnedMutexGuard<()>,
    ) -> Self {
        let lost = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            store.clone(),
            lease.clone(),
            options.clone(),
            lost.clone(),
            asked,
        ));
        crate::telemetry::lease_held(1.0);
        Self {
            lease,
            store: store.clone(),
            lost,
            renewer,
            _local: local,
        }
    }

    /// The lease, for fenced writes.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Cancelled when the lease is lost (or about to be, with renewals failing): stop writing.
    pub fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Ends the lease now so the next holder need not wait for its expiry.
    pub async fn release(self) {
        self.renewer.abort();
        if let Err(e) = self.store.release_lease(&self.lease).await {
            // It expires by itself; the next holder only waits longer.
            warn!(lease = %self.lease.name, error = %e, "could not release a lease; it ends at its expiry");
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        // Dropped without `release` (a cancelled job): stop renewing, so it expires. `release`
        // consumes the guard, so this runs once either way.
        self.renewer.abort();
        crate::telemetry::lease_held(-1.0);
    }
}

/// Renews `lease` every `renew_every` until aborted; cancels `lost` when a renewal is refused
/// or when none succeeded in time (the local deadline keeps a margin before the expiry).
async fn renew(
    store: MappingStore,
    lease: Lease,
    options: LeaseOptions,
    lost: CancellationToken,
    mut renewed_at: Instant,
) {
    let keep = options.ttl.saturating_sub(options.margin());
    loop {
        let deadline = renewed_at + keep;
        let next = (Instant::now() + options.renew_every()).min(deadline);
        tokio::time::sleep_until(next).await;
        if Instant::now() >= deadline {
            warn!(lease = %lease.name, "lease could not be renewed in time; stopping its work");
            lost.cancel();
            return;
        }
        let asked = Instant::now();
        let renewal = tokio::time::timeout(
            deadline.saturating_duration_since(asked),
            store.renew_lease(&lease, options.ttl),
        )
        .await;
        match renewal {
            Ok(Ok(true)) => renewed_at = asked,
            Ok(Ok(false)) => {
                warn!(lease = %lease.name, "lease taken over by another process; stopping its work");
                lost.cancel();
                return;
            }
            Ok(Err(e)) => warn!(lease = %lease.name, error = %e, "lease renewal failed; retrying"),
            Err(_) => warn!(lease = %lease.name, "lease renewal timed out"),
        }
    }
}

/// Runs `work` while holding the store lease `name` (the setup of a platform's chats, shared by
/// every job of every process). `None` when `stop` is cancelled before the lease was had.
///
/// # Errors
/// [`StoreError`] if the database fails while taking the lease;
/// [`StoreError::LeaseLost`] if the lease was lost while `work` ran (it is dropped then).
pub async fn with_lease<T>(
    store: &MappingStore,
    name: &str,
    options: &LeaseOptions,
    stop: &CancellationToken,
    on_wait: impl FnMut(&LeaseInfo),
    work: impl std::future::Future<Output = T>,
) -> Result<Option<T>, StoreError> {
    let Some(guard) = LeaseGuard::acquire(store, name, options, stop, on_wait).await? else {
        return Ok(None);
    };
    let out = tokio::select! {
        () = guard.lost().cancelled() => Err(StoreError::LeaseLost { name: name.to_owned() }),
        out = work => Ok(Some(out)),
    };
    guard.release().await;
    out
}

/// Runs a platform's source only while this process holds its ingress lease `name` (one per
/// credential: `keybase-listen:<account>`, `matrix-ingress`, `discord-gateway:<bot>`), for
/// several instances sharing one database: waits for the lease, calls `start` with a token
/// that stops the source, and when the lease is lost stops the source and waits for the lease
/// again (another instance runs the source meanwhile). Ends when `stop` is cancelled (the
/// lease is released for another instance to take at once) or when the source ends by itself
/// (with its result).
///
/// # Errors
/// The source's error, or the store's while taking the lease.
pub async fn run_while_holding<F, Fut, E>(
    store: &MappingStore,
    name: &str,
    options: &LeaseOptions,
    stop: &CancellationToken,
    mut start: F,
) -> Result<(), E>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: From<StoreError>,
{
    let mut reported = false;
    loop {
        let acquired = LeaseGuard::acquire(store, name, options, stop, |busy| {
            if !std::mem::replace(&mut reported, true) {
                tracing::info!(lease = %busy.name, holder = %busy.holder,
                    "another instance runs this source; standing by");
            }
        })
        .await?;
        let Some(guard) = acquired else {
            return Ok(());
        };
        reported = false;
        tracing::info!(lease = %name, epoch = guard.lease().epoch, "ingress lease taken: starting the source here");
        let source_stop = stop.child_token();
        let source = start(source_stop.clone());
        tokio::pin!(source);
        tokio::select! {
            result = &mut source => {
                guard.release().await;
                return result;
            }
            () = guard.lost().cancelled() => {
                warn!(lease = %name, "ingress lease lost: stopping the source here");
                source_stop.cancel();
                // What it still hands over is recognised by the hand-off if read again.
                let _ = source.await;
                drop(guard);
            }
        }
    }
}
