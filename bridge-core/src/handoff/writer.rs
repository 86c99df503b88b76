//! The hand-off writer: what this instance's listeners receive, stored for the link holders.

use tokio::sync::mpsc;
use tracing::{debug, error};

use super::{Wake, encode, event_key};
use crate::{
    relay::{Applied, Queued},
    store::{MappingStore, StoreError},
};

/// Stores each event of `rx` in the hand-off (in the order they come), wakes this process's
/// link holders, then answers the event's `done` with [`Applied::HandedOff`]; until `rx`
/// closes.
///
/// # Errors
/// [`StoreError`] when the database fails: the event in hand is not answered, so a source
/// that waits for answers keeps it for the next start.
pub async fn write(
    store: MappingStore,
    mut rx: mpsc::Receiver<Queued>,
    wake: Wake,
) -> Result<(), StoreError> {
    while let Some(queued) = rx.recv().await {
        let chat = queued.incoming.event.subject().chat_ref();
        let key = event_key(&queued.incoming);
        let payload = match encode(queued.incoming).await {
            Ok(payload) => payload,
            Err(e) => {
                // Cannot happen with the bytes in memory; never block the source on it.
                error!(chat = %chat, key = %key, error = %e, "cannot store a live event; it is not relayed");
                if let Some(done) = queued.done {
                    let _ = done.send(Applied::GaveUp);
                }
                continue;
            }
        };
        let new = store.put_relay_event(&chat, &key, &payload).await?;
        if new {
            wake.wake();
        } else {
            debug!(chat = %chat, key = %key, "live event handed over before; skipped");
        }
        if let Some(done) = queued.done {
            // The source may have stopped waiting; the event is stored either way.
            let _ = done.send(Applied::HandedOff);
        }
    }
    Ok(())
}
