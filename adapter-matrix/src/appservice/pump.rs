//! From the inbox to the relay: each waiting event is handed over in arrival order, and marked
//! handled only once the relay answers that it is applied and recorded.
//!
//! The inbox is the homeserver's events made durable (a transaction is acknowledged only once
//! written), so an event is never lost between the homeserver and a target: kbbridge killed
//! after the hand-over and before the answer finds it waiting again at the next start, and
//! the relay's ID map and journal make applying it again a no-op where it was applied.

use std::{sync::Arc, time::Duration};

use bridge_core::{
    StoreError,
    relay::{Applied, Queued},
};
use tokio::{
    sync::{Notify, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::inbox::Inbox;

/// How many waiting events are read at a time.
const BATCH: u32 = 100;

/// How often the inbox is read again without a notification: a transaction taken by another
/// kbbridge process on the same database notifies nobody here.
const POLL: Duration = Duration::from_secs(2);

/// Hands the inbox's waiting events to `out` until `shutdown` or until `out` closes; wakes on
/// `arrivals` ([`super::Listening::arrivals`]).
///
/// # Errors
/// The store's, reading the inbox or marking an event handled.
pub async fn pump(
    inbox: Arc<Inbox>,
    arrivals: Arc<Notify>,
    out: mpsc::Sender<Queued>,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    // Items up to `after` are handed over; their answers are awaited in `answers`.
    let mut after = 0i64;
    let mut answers: JoinSet<Result<(), StoreError>> = JoinSet::new();
    loop {
        while let Some(done) = answers.try_join_next() {
            done.unwrap_or(Ok(()))?;
        }
        let batch = inbox.waiting_after(after, BATCH).await?;
        if batch.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = arrivals.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                Some(done) = answers.join_next(), if !answers.is_empty() => {
                    done.unwrap_or(Ok(()))?;
                }
            }
            continue;
        }
        for waiting in batch {
            after = waiting.id;
            let pushed = match waiting.event {
                Ok(pushed) => pushed,
                Err(skip) => {
                    info!(item = waiting.id, reason = %skip, "matrix event not relayed");
                    inbox.done(waiting.id).await?;
                    continue;
                }
            };
            let (queued, answer) = Queued::acked(pushed.incoming);
            if out.send(queued).await.is_err() {
                return Ok(());
            }
            let inbox = Arc::clone(&inbox);
            let id = waiting.id;
            let event_id = pushed.event_id;
            answers.spawn(async move {
                // No answer: the relay stopped first; the event waits for the next start.
                let Ok(applied) = answer.await else {
                    return Ok(());
                };
                if applied != Applied::Relayed(0) {
                    debug!(item = id, event = %event_id, ?applied, "matrix event handled");
                }
                inbox.done(id).await
            });
        }
    }
}
