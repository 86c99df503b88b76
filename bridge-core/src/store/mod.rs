//! The persistent ID-mapping store.
//!
//! SQLite (a file in WAL mode, created on first run) is the embedded default; a `postgres://`
//! URL selects PostgreSQL for operators who run several instances. One set of queries serves
//! both (sqlx `Any`, `$N` placeholders); dialect differences live in the two migration folders.
//!
//! # Tables
//! - `message_copy`: every copy of every message, under its origin, with a part number and a
//!   state (`pending` → `sent`, or `rejected`), so a crash can be reconciled.
//! - `backfill_progress`: per (source chat, target chat): cursor, counts, done flag.
//! - `target`: rooms, channels, webhooks and spaces created or adopted, reused on re-runs.
//! - `ghost`: the users/ghosts created on a target for a source user.
//! - `lease`: who may write for a link (or set up a platform's chats) now, and until when.
//! - `as_txn`, `inbox`: events a platform pushed (appservice transactions), held durably
//!   until a worker has handled them.
//! - `relay_event`: live events handed from the instance that received them to the one that
//!   relays their link (several instances on one database).
//! - `live_position`, `op_copy`, `reaction_copy`, `tombstone`, `copy_text`, `reaction_source`:
//!   what the live relay keeps (see Files).
//!
//! # Files
//! - `open.rs`: URLs, connection pools, PRAGMAs and migrations.
//! - `readers.rs`: the connections that serve lookups on a SQLite file.
//! - `copies.rs`: `message_copy`, the heart of the store (reply/edit translation, echo checks,
//!   exactly-once sends).
//! - `reports.rs`: pending and rejected parts, and counts, from `message_copy`.
//! - `degraded.rs`: copies delivered without some attachments (notes in a sent row's detail).
//! - `progress.rs`: `backfill_progress`.
//! - `targets.rs`: `target` and `ghost`.
//! - `totals.rs`: per chat pair, messages copied, rejected, pending and degraded.
//! - `positions.rs`, `ops.rs`, `reactions.rs`: what the live relay keeps (live positions and
//!   tombstones, the journal of edits, deletes and reactions, reaction copies and their counts).
//! - `texts.rs`: `copy_text`, which parts of a copy carry its text and its newest edit.
//! - `reaction_sources.rs`: `reaction_source`, each relayed reaction under its own source ID.
//! - `leases.rs`: `lease`, one writer per link (holder, epoch, expiry; fenced writes).
//! - `inbox.rs`: `as_txn` and `inbox`, pushed events written before they are acknowledged.
//! - `handoff.rs`: `relay_event`, live events handed between instances.

mod copies;
mod degraded;
mod handoff;
mod inbox;
mod leases;
mod open;
mod ops;
mod positions;
mod progress;
mod reaction_sources;
mod reactions;
mod readers;
mod reports;
mod targets;
mod texts;
mod totals;

pub use degraded::DegradedCopy;
pub use handoff::{HANDOFF_CHANNEL, RelayEvent};
pub use inbox::{InboxItem, TxnOutcome};
pub use leases::{Lease, LeaseInfo};
pub use open::{CONNECT_TIMEOUT, redact_url};
pub use ops::OpState;
pub use reaction_sources::SourceReaction;
pub use reactions::ReactionCopy;
pub use texts::TextLayout;
pub use totals::CopyTotals;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use crate::ids::{ChatRef, Cursor, MsgId, MsgRef, Platform};

/// A failure of the mapping store.
///
/// Each message says what failed; the cause is in the error's chain, never also in the message
/// (print with `bridge_core::Report`, which also skips the causes sqlx repeats).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened (reached, created, connected to).
    #[error("cannot open the database {url}")]
    Open {
        /// The URL, with any password removed.
        url: String,
        /// What went wrong.
        #[source]
        cause: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the database {url}")]
    Migrate {
        /// The URL, with any password removed.
        url: String,
        /// What went wrong.
        #[source]
        cause: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database query failed")]
    Query(#[source] sqlx::Error),
    /// The database holds a value this version cannot read.
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
    /// A write was refused because the lease it was made under has been lost (it expired and
    /// another process took it): this process must stop writing for what the lease guards.
    #[error("lease {name} was lost to another process")]
    LeaseLost {
        /// The lease's name.
        name: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Query(e)
    }
}

/// The state of one part of one copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// Written just before the send; the send's outcome is unknown until marked.
    Pending,
    /// Delivered; the row holds the target message ID.
    Sent,
    /// Refused by the target for good; the row holds the reason. Skipped on re-runs.
    Rejected,
}

/// One part of a message's copy in one target chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRow {
    /// The part number, from 0.
    pub part: u32,
    /// Its state.
    pub state: CopyState,
    /// The target message ID, once sent.
    pub msg: Option<MsgId>,
    /// Why it was rejected, if it was; on a sent part 0, the notes of a degraded copy (see
    /// [`MappingStore::mark_degraded`]).
    pub detail: Option<String>,
}

/// A rejected part, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedCopy {
    /// The source message.
    pub origin: MsgRef,
    /// The target chat.
    pub to: ChatRef,
    /// The part that was rejected.
    pub part: u32,
    /// The target's reason.
    pub reason: String,
}

/// Backfill progress of one source chat into one target chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The source chat.
    pub from: ChatRef,
    /// The target chat.
    pub to: ChatRef,
    /// Where the next page starts (`None`: from the beginning).
    pub cursor: Option<Cursor>,
    /// Messages copied so far.
    pub copied: u64,
    /// Messages skipped because the store already had them.
    pub skipped: u64,
    /// Messages the target rejected.
    pub rejected: u64,
    /// Whether the whole history has been copied.
    pub done: bool,
    /// When this row was last written.
    pub updated_at: DateTime<Utc>,
}

/// A sent copy, for batch inserts.
#[derive(Clone, Debug)]
pub struct SentCopy {
    /// The source message.
    pub origin: MsgRef,
    /// The target chat.
    pub to: ChatRef,
    /// The part number.
    pub part: u32,
    /// The target message ID.
    pub msg: MsgId,
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The persistent ID-mapping store; cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct MappingStore {
    /// Writes, transactions, migrations; and reads, except on a SQLite file.
    pool: sqlx::AnyPool,
    /// Reads on a SQLite file (see `readers.rs`).
    readers: Option<Arc<readers::Readers>>,
    backend: Backend,
}

impl MappingStore {
    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers now (`SELECT 1` on the writing pool).
    ///
    /// # Errors
    /// [`StoreError::Query`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection, waiting for queries in flight. Later calls fail.
    pub async fn close(&self) {
        if let Some(readers) = &self.readers {
            readers.close().await;
        }
        self.pool.close().await;
    }
}

impl CopyState {
    /// The value of the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            CopyState::Pending => "pending",
            CopyState::Sent => "sent",
            CopyState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        [CopyState::Pending, CopyState::Sent, CopyState::Rejected]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown copy state {s:?}")))
    }
}

/// Now, in milliseconds since the Unix epoch: the unit of every `*_at` column.
fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Reads column `i` of `row` as a platform name.
fn platform_at(row: &AnyRow, i: usize) -> Result<Platform, StoreError> {
    let name: String = row.try_get(i)?;
    Platform::parse(&name).ok_or_else(|| StoreError::Corrupt(format!("unknown platform {name:?}")))
}

/// Reads columns `i..i + 3` of `row` as a message ref (platform, chat, message).
fn msg_ref_at(row: &AnyRow, i: usize) -> Result<MsgRef, StoreError> {
    Ok(MsgRef {
        platform: platform_at(row, i)?,
        chat: row.try_get::<String, _>(i + 1)?.into(),
        msg: row.try_get::<String, _>(i + 2)?.into(),
    })
}

/// Reads columns `i..i + 2` of `row` as a chat ref (platform, chat).
fn chat_ref_at(row: &AnyRow, i: usize) -> Result<ChatRef, StoreError> {
    Ok(ChatRef {
        platform: platform_at(row, i)?,
        chat: row.try_get::<String, _>(i + 1)?.into(),
    })
}

/// Reads column `i` of `row`, a non-negative integer, as `T`.
fn count_at<T: TryFrom<i64>>(row: &AnyRow, i: usize) -> Result<T, StoreError> {
    let n: i64 = row.try_get(i)?;
    T::try_from(n).map_err(|_| StoreError::Corrupt(format!("integer {n} out of range")))
}
