//! What of a transaction goes into the inbox, and reading it back out.
//!
//! Synapse pushes every event of every room an appservice user is in, the ghosts' and the
//! bot's own included (`matrix.md` §1.4, pitfall 6). Only what the relay may need is kept: room
//! messages, reactions and redactions, sent by someone who is neither the bot nor a ghost, in a
//! room kbbridge knows ([`KnownRooms`]). Everything else is counted and logged at DEBUG, never
//! stored. The kept events go into the store's inbox as the homeserver sent them (ingress
//! [`INGRESS`]), with the transaction's ID, in one database transaction
//! ([`bridge_core::MappingStore::take_transaction`]).

use std::{
    collections::HashSet,
    sync::{Arc, PoisonError, RwLock},
};

use bridge_core::{ChatId, MappingStore, StoreError, store::TxnOutcome};
use ruma::{OwnedUserId, UserId, events::AnyTimelineEvent, serde::Raw};
use serde::Deserialize;
use tracing::{debug, warn};

use super::{
    event::{self, Converted},
    gaps::GapCheck,
};
use crate::client::MatrixClient;

/// The inbox's ingress name for events the homeserver pushed.
pub const INGRESS: &str = "matrix";

/// The rooms kbbridge relays (the Matrix side of its links); cheap to clone, shared with the
/// listener, which reads it on every transaction.
#[derive(Clone, Debug, Default)]
pub struct KnownRooms(Arc<RwLock<HashSet<String>>>);

impl KnownRooms {
    /// Adds `room` (a room ID).
    pub fn insert(&self, room: &ChatId) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room.as_str().to_owned());
    }

    /// Whether `room` is known.
    pub fn contains(&self, room: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(room)
    }
}

/// Who writes as kbbridge on the homeserver: its bot and its ghosts.
#[derive(Clone, Debug)]
pub struct Ours {
    bot: OwnedUserId,
    ghost_prefix: String,
}

impl Ours {
    /// The bot `bot` and the ghosts `@<ghost_prefix>…` on the bot's server.
    pub fn new(bot: OwnedUserId, ghost_prefix: &str) -> Self {
        Self {
            bot,
            ghost_prefix: ghost_prefix.to_owned(),
        }
    }

    /// Whether `user` is kbbridge itself.
    pub fn contains(&self, user: &UserId) -> bool {
        user == self.bot
            || (user.server_name() == self.bot.server_name()
                && user.localpart().starts_with(&self.ghost_prefix))
    }
}

/// What decides which pushed events are kept.
#[derive(Clone, Debug)]
pub struct Filter {
    /// kbbridge's own users, whose events are echoes.
    pub ours: Ours,
    /// The rooms relayed.
    pub rooms: KnownRooms,
}

/// Why an event is not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Sent by the bot or a ghost: kbbridge's own echo.
    Own,
    /// In a room kbbridge does not relay.
    UnknownRoom,
    /// Not a message, reaction or redaction (state, typing, encrypted…).
    Type,
    /// Without an event ID, sender, room or type.
    Unreadable,
}

/// The fields every decision needs (owned: JSON strings may hold escapes).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    event_id: String,
    sender: OwnedUserId,
    room_id: String,
    /// State events have one; a message never does.
    state_key: Option<serde::de::IgnoredAny>,
    /// Tells a transaction held back by a failed push (`gaps.rs`).
    origin_server_ts: Option<u64>,
}

/// A kept event: its ID, its room, and `origin_server_ts` (ms) when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// The event ID.
    pub id: String,
    /// Its room.
    pub room: String,
    /// `origin_server_ts`, in ms.
    pub ts: Option<u64>,
}

impl Filter {
    /// The event's ID, room and time, when it is kept.
    ///
    /// # Errors
    /// Why it is dropped.
    pub fn judge(&self, raw: &Raw<AnyTimelineEvent>) -> Result<Judged, Dropped> {
        let e: Envelope =
            serde_json::from_str(raw.json().get()).map_err(|_| Dropped::Unreadable)?;
        if !matches!(
            e.kind.as_str(),
            "m.room.message" | "m.reaction" | "m.room.redaction"
        ) || e.state_key.is_some()
        {
            return Err(Dropped::Type);
        }
        if self.ours.contains(&e.sender) {
            return Err(Dropped::Own);
        }
        if !self.rooms.contains(&e.room_id) {
            return Err(Dropped::UnknownRoom);
        }
        Ok(Judged {
            id: e.event_id,
            room: e.room_id,
            ts: e.origin_server_ts,
        })
    }
}

/// Writes the kept events of transaction `txn_id` into the inbox, in one database
/// transaction with the transaction's ID.
///
/// # Errors
/// The store's: the transaction must then not be acknowledged.
pub async fn take(
    store: &MappingStore,
    filter: &Filter,
    gaps: Option<&GapCheck>,
    txn_id: &str,
    events: &[Raw<AnyTimelineEvent>],
) -> Result<TxnOutcome, StoreError> {
    let mut kept = Vec::new();
    let (mut own, mut unknown, mut other, mut unreadable) = (0, 0, 0, 0);
    for raw in events {
        match filter.judge(raw) {
            Ok(judged) => kept.push((judged, raw.json().get().to_owned())),
            Err(Dropped::Own) => own += 1,
            Err(Dropped::UnknownRoom) => unknown += 1,
            Err(Dropped::Type) => other += 1,
            Err(Dropped::Unreadable) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        // Not a Matrix event as the spec has it: nothing to relay, but worth knowing.
        warn!(txn = %txn_id, unreadable, "events without an event_id, sender, room_id or type were left out");
    }
    let mut filled = Vec::new();
    if let Some(gaps) = gaps {
        let judged: Vec<&Judged> = kept.iter().map(|(j, _)| j).collect();
        filled = gaps.fill(store, filter, &judged).await;
    }
    let skipped = filled.len();
    filled.extend(kept.into_iter().map(|(j, payload)| (j.id, payload)));
    let outcome = store.take_transaction(txn_id, INGRESS, &filled).await?;
    if let (Some(gaps), TxnOutcome::Repeated) = (gaps, outcome) {
        // Sent again: the homeserver is recovering, and may skip one at the end of it.
        gaps.open();
    }
    debug!(
        txn = %txn_id, events = events.len(), kept = filled.len() - skipped, skipped, own,
        unknown_room = unknown, other_type = other, unreadable, outcome = ?outcome, "transaction"
    );
    Ok(outcome)
}

/// One inbox item, read back and converted.
#[derive(Debug)]
pub struct Waiting {
    /// Its place in the inbox: give it to [`Inbox::done`] once handled.
    pub id: i64,
    /// The core event, or why this event is not relayed.
    pub event: Converted,
}

/// The inbox of events the homeserver pushed, read in arrival order.
pub struct Inbox {
    store: MappingStore,
    client: Arc<MatrixClient>,
    ours: Ours,
}

impl Inbox {
    /// Reads `store`'s inbox; media are downloaded through `client`, and events of `ours` (an
    /// inbox written before a ghost prefix change) are skipped again.
    pub fn new(store: MappingStore, client: Arc<MatrixClient>, ours: Ours) -> Self {
        Self {
            store,
            client,
            ours,
        }
    }

    /// Up to `limit` items not handled yet, oldest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn waiting(&self, limit: u32) -> Result<Vec<Waiting>, StoreError> {
        self.waiting_after(0, limit).await
    }

    /// Up to `limit` items not handled yet with an id above `after` (those in flight are at
    /// or below it), oldest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn waiting_after(&self, after: i64, limit: u32) -> Result<Vec<Waiting>, StoreError> {
        let items = self
            .store
            .inbox_waiting_after(INGRESS, after, limit)
            .await?;
        Ok(items
            .into_iter()
            .map(|item| Waiting {
                id: item.id,
                event: event::convert(&item.payload, &self.client, &self.ours),
            })
            .collect())
    }

    /// Marks the item `id` handled.
    ///
    /// # Errors
    /// The store's.
    pub async fn done(&self, id: i64) -> Result<(), StoreError> {
        self.store.inbox_done(id).await
    }
}
