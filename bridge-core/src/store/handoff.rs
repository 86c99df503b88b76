//! `relay_event`: live events handed from the instance that received them to the instance that
//! relays their link (several kbbridge processes on one database; see `crate::handoff`).
//!
//! An event is unique by (source chat, key): writing it again (a redelivery, a catch-up that
//! reads it a second time after a listener moved to another instance) writes nothing. Link
//! holders read the waiting events of their chats in `id` order and mark each done once the
//! relay applied it; done events are pruned after a while.

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Backend, MappingStore, StoreError, chat_ref_at, now_ms};
use crate::ids::ChatRef;

/// The PostgreSQL channel told of every new event, so link holders wake at once.
pub const HANDOFF_CHANNEL: &str = "kbbridge_handoff";

/// `$1..$2` chat, `$3` key, `$4` payload, `$5` now. No row written: already there.
const PUT: &str = "INSERT INTO relay_event (platform, chat, native_id, payload, received_at, done)
    VALUES ($1, $2, $3, $4, $5, 0)
    ON CONFLICT (platform, chat, native_id) DO NOTHING";

/// `$1` id.
const DONE: &str = "UPDATE relay_event SET done = 1 WHERE id = $1";

/// `$1` time in ms.
const PRUNE: &str = "DELETE FROM relay_event WHERE done = 1 AND received_at < $1";

/// Events waiting, events done.
const COUNTS: &str = "SELECT
        CAST(COALESCE(SUM(CASE WHEN done = 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
        CAST(COALESCE(SUM(done), 0) AS BIGINT)
    FROM relay_event";

/// One live event in the hand-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayEvent {
    /// Its place: a chat's events are relayed in this order.
    pub id: i64,
    /// Its source chat.
    pub chat: ChatRef,
    /// What makes it unique in its chat (see `crate::handoff::event_key`).
    pub native_id: String,
    /// The event, serialised (`crate::handoff::encode`).
    pub payload: String,
    /// When it was handed over.
    pub received_at: DateTime<Utc>,
}

fn event_from(row: &AnyRow) -> Result<RelayEvent, StoreError> {
    let ms: i64 = row.try_get(5)?;
    Ok(RelayEvent {
        id: row.try_get(0)?,
        chat: chat_ref_at(row, 1)?,
        native_id: row.try_get(3)?,
        payload: row.try_get(4)?,
        received_at: DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::Corrupt(format!("time {ms} out of range")))?,
    })
}

/// The waiting events of `count` chats, oldest first: `$1..$2`, `$3..$4`, … are the chats,
/// the last placeholder the limit.
fn waiting_sql(count: usize) -> String {
    let chats: Vec<String> = (0..count)
        .map(|i| format!("(platform = ${} AND chat = ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    format!(
        "SELECT id, platform, chat, native_id, payload, received_at FROM relay_event
         WHERE done = 0 AND ({}) ORDER BY id LIMIT ${}",
        chats.join(" OR "),
        2 * count + 1
    )
}

impl MappingStore {
    /// Hands over the event `payload` of `chat`, unique in it by `key`. `false`: it was there
    /// already (nothing is written). On PostgreSQL, listeners of [`HANDOFF_CHANNEL`] are told.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn put_relay_event(
        &self,
        chat: &ChatRef,
        key: &str,
        payload: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(PUT)
            .bind(chat.platform.as_str())
            .bind(chat.chat.as_str())
            .bind(key)
            .bind(payload)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        let new = done.rows_affected() == 1;
        if new && self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(HANDOFF_CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        Ok(new)
    }

    /// Up to `limit` events of `chats` not done yet, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn relay_events_waiting(
        &self,
        chats: &[ChatRef],
        limit: u32,
    ) -> Result<Vec<RelayEvent>, StoreError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let sql = waiting_sql(chats.len());
        let mut query = sqlx::query(&sql);
        for chat in chats {
            query = query.bind(chat.platform.as_str()).bind(chat.chat.as_str());
        }
        // The writing pool: a link holder must see what another process just committed.
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(event_from).collect()
    }

    /// Marks the event `id` relayed: it is no longer waiting.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn relay_event_done(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(DONE).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes the events done that were handed over before `before`; how many.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn prune_relay_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(PRUNE)
            .bind(before.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many events are waiting in the hand-off, and how many are done (and not pruned).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn relay_event_counts(&self) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(COUNTS).fetch_one(&self.pool).await?;
        Ok((super::count_at(&row, 0)?, super::count_at(&row, 1)?))
    }
}
