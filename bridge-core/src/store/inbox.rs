//! `as_txn` and `inbox`: events a platform pushed, written before they are acknowledged.
//!
//! A Matrix homeserver pushes events to the appservice in numbered transactions and sends a
//! transaction again until it gets a 200. kbbridge answers only after
//! [`MappingStore::take_transaction`] has committed the transaction's ID and its events in one
//! database transaction: a crash after the answer loses nothing, and a transaction sent again
//! (its answer was lost, or it timed out while we wrote) is recognised by its ID and has no
//! effect. An event is also unique by its own ID on its platform (`native_id`), which guards
//! a redelivery under another transaction ID. Workers read the waiting items in arrival order
//! ([`MappingStore::inbox_waiting`]) and mark each done once handled.

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{MappingStore, StoreError, now_ms};

/// `$1` transaction ID, `$2` now. No row written: the ID was taken before.
const TAKE_TXN: &str = "INSERT INTO as_txn (txn_id, received_at) VALUES ($1, $2)
    ON CONFLICT (txn_id) DO NOTHING";

/// `$1` ingress, `$2` native ID, `$3` payload, `$4` now. No row written: already there.
const PUT_ITEM: &str = "INSERT INTO inbox (ingress, native_id, payload, received_at, done)
    VALUES ($1, $2, $3, $4, 0)
    ON CONFLICT (ingress, native_id) DO NOTHING";

/// `$1` ingress, `$2` limit, `$3` the id to read after.
const WAITING: &str = "SELECT id, ingress, native_id, payload, received_at FROM inbox
    WHERE ingress = $1 AND done = 0 AND id > $3 ORDER BY id LIMIT $2";

/// `$1` ingress, `$2` native ID: a row when the inbox has that event (waiting or done).
const KNOWN: &str = "SELECT 1 FROM inbox WHERE ingress = $1 AND native_id = $2";

/// `$1` id.
const DONE: &str = "UPDATE inbox SET done = 1 WHERE id = $1";

/// `$1` ingress: items waiting, items done.
const COUNTS: &str = "SELECT
        CAST(COALESCE(SUM(CASE WHEN done = 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
        CAST(COALESCE(SUM(done), 0) AS BIGINT)
    FROM inbox WHERE ingress = $1";

/// One pushed event waiting in (or done from) the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    /// Its place in the inbox: items are handled in this order.
    pub id: i64,
    /// Where it came in (`matrix`: the appservice).
    pub ingress: String,
    /// The event's own ID on its platform (a Matrix event ID).
    pub native_id: String,
    /// The event as the platform sent it.
    pub payload: String,
    /// When kbbridge received it.
    pub received_at: DateTime<Utc>,
}

/// What [`MappingStore::take_transaction`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    /// A new transaction: its events are in the inbox.
    Taken {
        /// Events written.
        stored: usize,
        /// Events left out because the inbox already had them (a redelivery).
        known: usize,
    },
    /// A transaction taken before: nothing was written.
    Repeated,
}

fn item_from(row: &AnyRow) -> Result<InboxItem, StoreError> {
    let ms: i64 = row.try_get(4)?;
    Ok(InboxItem {
        id: row.try_get(0)?,
        ingress: row.try_get(1)?,
        native_id: row.try_get(2)?,
        payload: row.try_get(3)?,
        received_at: DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::Corrupt(format!("time {ms} out of range")))?,
    })
}

impl MappingStore {
    /// Takes the pushed transaction `txn_id` once: records its ID and writes `events`
    /// (`(native ID, payload)` pairs, in order) into the inbox of `ingress`, all in one
    /// database transaction. A transaction ID taken before writes nothing.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; nothing is written then.
    pub async fn take_transaction(
        &self,
        txn_id: &str,
        ingress: &str,
        events: &[(String, String)],
    ) -> Result<TxnOutcome, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(TAKE_TXN)
            .bind(txn_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(TxnOutcome::Repeated);
        }
        let mut stored = 0;
        for (native_id, payload) in events {
            let done = sqlx::query(PUT_ITEM)
                .bind(ingress)
                .bind(native_id.as_str())
                .bind(payload.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            stored += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        tx.commit().await?;
        Ok(TxnOutcome::Taken {
            stored,
            known: events.len() - stored,
        })
    }

    /// Up to `limit` items of `ingress` not done yet, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn inbox_waiting(
        &self,
        ingress: &str,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StoreError> {
        self.inbox_waiting_after(ingress, 0, limit).await
    }

    /// Up to `limit` items of `ingress` not handled yet whose id is above `after`, oldest
    /// first: a reader with items in flight reads on past them.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn inbox_waiting_after(
        &self,
        ingress: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StoreError> {
        let query = sqlx::query(WAITING)
            .bind(ingress)
            .bind(i64::from(limit))
            .bind(after);
        let rows = self.read_all(query).await?;
        rows.iter().map(item_from).collect()
    }

    /// Marks the item `id` handled: it is no longer waiting.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn inbox_done(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(DONE).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Whether the inbox of `ingress` has the event `native_id`, waiting or done.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn inbox_knows(&self, ingress: &str, native_id: &str) -> Result<bool, StoreError> {
        let query = sqlx::query(KNOWN).bind(ingress).bind(native_id);
        Ok(self.read_optional(query).await?.is_some())
    }

    /// How many items of `ingress` are waiting, and how many are done.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn inbox_counts(&self, ingress: &str) -> Result<(u64, u64), StoreError> {
        let row = self.read_one(sqlx::query(COUNTS).bind(ingress)).await?;
        Ok((super::count_at(&row, 0)?, super::count_at(&row, 1)?))
    }
}
