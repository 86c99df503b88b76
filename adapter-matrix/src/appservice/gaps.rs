//! Events the homeserver never pushed, found in their room before a pushed one and taken
//! first, so that nothing waits for the homeserver's next recovery and the room's order holds.
//!
//! Synapse ends an appservice's recovery with a race (`_Recoverer.retry`, 1.163): a transaction
//! created between its last look for unsent transactions and marking the appservice up stays
//! unsent until the next failed delivery, which may be days later, while every newer event is
//! pushed at once. The recovery starts when a push fails, so kbbridge's own restart (whose
//! ping makes Synapse recover at once) is the usual moment.
//!
//! So while recovery may be going on, each transaction is checked ([`GapCheck::fill`]): for each
//! room, the events before the transaction's first kept event there are read from the room
//! (`/context`, the bot's view), newest first, back to the first one the inbox already has;
//! those it lacks go into the inbox before the transaction's own, in the room's order. The
//! late transaction, when it comes, is recognised by its events' IDs and does nothing. With no
//! known event among those read (a new room, or a gap longer than that), nothing is added: the
//! room's history before kbbridge listened is not the relay's.
//!
//! "May be going on" is [`WINDOW`] after the listener starts, after a transaction comes again,
//! and after one with an event older than [`LATE`] (held back by a failed push).

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bridge_core::MappingStore;
use ruma::{
    OwnedEventId, RoomId, UInt,
    api::client::{context::get_context, filter::RoomEventFilter},
    events::AnyTimelineEvent,
    serde::Raw,
};
use tracing::{debug, info, warn};

use super::inbox::{Filter, INGRESS, Judged};
use crate::client::MatrixClient;

/// How long after a sign of recovery transactions are checked.
pub const WINDOW: Duration = Duration::from_secs(30);

/// Events older than this when pushed were held back: the homeserver is recovering. Its first
/// retry after a failed push comes 2 s later (then 4, 8…), so even a failure kbbridge never saw
/// (a connection lost on the way) shows; a push otherwise takes milliseconds.
pub const LATE: Duration = Duration::from_millis(1500);

/// How long reading a room may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Events read before a pushed one (Synapse gives `/context` half its limit before the event).
const BEFORE: u32 = 25;

/// Looks for events the homeserver skipped, while it may be recovering.
pub struct GapCheck {
    client: Arc<MatrixClient>,
    until: Mutex<Instant>,
}

impl GapCheck {
    /// Reads rooms through `client`; checks from now for [`WINDOW`].
    pub fn new(client: Arc<MatrixClient>) -> Self {
        Self {
            client,
            until: Mutex::new(Instant::now() + WINDOW),
        }
    }

    /// Checks for [`WINDOW`] from now (a transaction came again: the homeserver recovers).
    pub fn open(&self) {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        *until = (*until).max(Instant::now() + WINDOW);
    }

    fn is_open(&self) -> bool {
        Instant::now() < *self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events the inbox lacks before `kept` (a transaction's kept events, in order), per
    /// room oldest first, as `(event ID, JSON)` pairs to take before the transaction's own.
    /// Nothing while no recovery may be going on; a room that cannot be read is logged and
    /// left to the homeserver.
    pub async fn fill(
        &self,
        store: &MappingStore,
        filter: &Filter,
        kept: &[&Judged],
    ) -> Vec<(String, String)> {
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        if any_late(kept, now_ms) {
            self.open();
        }
        if !self.is_open() {
            return Vec::new();
        }
        // The first kept event of each room: what comes before it in the transaction is known.
        let mut first: BTreeMap<&str, &str> = BTreeMap::new();
        for k in kept {
            first.entry(k.room.as_str()).or_insert(k.id.as_str());
        }
        let mut missing = Vec::new();
        for (room, event) in first {
            match self.before(store, filter, room, event).await {
                Ok(found) => {
                    if !found.is_empty() {
                        info!(
                            room,
                            before = event,
                            events = found.len(),
                            "events the homeserver had not pushed are taken first"
                        );
                    }
                    missing.extend(found);
                }
                Err(e) => warn!(room, event, error = %e,
                    "cannot look for events the homeserver did not push; relying on its retries"),
            }
        }
        missing
    }

    /// The kept events before `event` in `room` that the inbox lacks, oldest first.
    async fn before(
        &self,
        store: &MappingStore,
        filter: &Filter,
        room: &str,
        event: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let room_id = <&RoomId>::try_from(room).map_err(|e| e.to_string())?;
        let event_id = OwnedEventId::try_from(event).map_err(|e| e.to_string())?;
        let mut req = get_context::v3::Request::new(room_id.to_owned(), event_id);
        req.limit = UInt::from(BEFORE * 2);
        let mut only = RoomEventFilter::default();
        only.types = Some(
            ["m.room.message", "m.reaction", "m.room.redaction"]
                .map(str::to_owned)
                .to_vec(),
        );
        req.filter = only;
        // Bounded: the homeserver waits for this transaction's answer meanwhile.
        let answer = tokio::time::timeout(LOOKUP_TIMEOUT, self.client.send(req, None))
            .await
            .map_err(|_| format!("no answer within {LOOKUP_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let found = unknown_before(store, filter, &answer.events_before)
            .await
            .map_err(|e| e.to_string())?;
        debug!(room, event, read = answer.events_before.len(), found = ?found.as_ref().map(Vec::len),
            "looked for events the homeserver did not push");
        Ok(found.unwrap_or_default())
    }
}

/// Whether one of `kept` is older than [`LATE`] at `now_ms`.
fn any_late(kept: &[&Judged], now_ms: u64) -> bool {
    let late = u64::try_from(LATE.as_millis()).unwrap_or(u64::MAX);
    kept.iter()
        .any(|k| k.ts.is_some_and(|ts| ts.saturating_add(late) < now_ms))
}

/// Of `before` (newest first), the kept events newer than the newest one the inbox has,
/// oldest first; `None` when the inbox has none of them.
async fn unknown_before(
    store: &MappingStore,
    filter: &Filter,
    before: &[Raw<AnyTimelineEvent>],
) -> Result<Option<Vec<(String, String)>>, bridge_core::StoreError> {
    let mut unknown = Vec::new();
    // The same event listed twice (a homeserver's quirk) is taken once.
    let mut seen = HashSet::new();
    for raw in before {
        let Ok(Judged { id, .. }) = filter.judge(raw) else {
            continue;
        };
        if store.inbox_knows(INGRESS, &id).await? {
            unknown.reverse();
            return Ok(Some(unknown));
        }
        if seen.insert(id.clone()) {
            unknown.push((id, raw.json().get().to_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(ts: Option<u64>) -> Judged {
        Judged {
            id: "$e".into(),
            room: "!r:hs".into(),
            ts,
        }
    }

    #[test]
    fn an_event_held_back_by_a_retry_is_late_and_a_fresh_one_is_not() {
        let now = 1_000_000;
        assert!(!any_late(&[&kept(Some(now - 200))], now), "a push takes ms");
        assert!(
            any_late(&[&kept(Some(now - 2_000))], now),
            "the first retry's 2 s"
        );
        assert!(any_late(
            &[&kept(Some(now)), &kept(Some(now - 60_000))],
            now
        ));
        assert!(!any_late(&[&kept(None)], now), "no time, no sign");
        assert!(!any_late(&[&kept(Some(now + 5_000))], now), "a clock ahead");
    }
}
