//! `backfill_progress`: where each (source chat, target chat) backfill stands.

use chrono::DateTime;
use sqlx::{Row, any::AnyRow};

use super::{MappingStore, Progress, StoreError, chat_ref_at, count_at};
use crate::ids::{ChatRef, Cursor};

/// `$1..$4` = source platform, chat, target platform, chat.
const PROGRESS: &str = "SELECT src_platform, src_chat, dst_platform, dst_chat,
        cursor, copied, skipped, rejected, done, updated_at
    FROM backfill_progress
    WHERE src_platform = $1 AND src_chat = $2 AND dst_platform = $3 AND dst_chat = $4";

const SAVE_PROGRESS: &str = "INSERT INTO backfill_progress (src_platform, src_chat, dst_platform,
        dst_chat, cursor, copied, skipped, rejected, done, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (src_platform, src_chat, dst_platform, dst_chat) DO UPDATE SET
        cursor = excluded.cursor, copied = excluded.copied, skipped = excluded.skipped,
        rejected = excluded.rejected, done = excluded.done, updated_at = excluded.updated_at";

const ALL_PROGRESS: &str = "SELECT src_platform, src_chat, dst_platform, dst_chat,
        cursor, copied, skipped, rejected, done, updated_at
    FROM backfill_progress
    ORDER BY src_platform, src_chat, dst_platform, dst_chat";

/// Reads a row of [`PROGRESS`] or [`ALL_PROGRESS`].
fn progress_from(row: &AnyRow) -> Result<Progress, StoreError> {
    let updated_ms: i64 = row.try_get(9)?;
    Ok(Progress {
        from: chat_ref_at(row, 0)?,
        to: chat_ref_at(row, 2)?,
        cursor: row.try_get::<Option<String>, _>(4)?.map(Cursor::from),
        copied: count_at(row, 5)?,
        skipped: count_at(row, 6)?,
        rejected: count_at(row, 7)?,
        done: row.try_get::<i64, _>(8)? != 0,
        updated_at: DateTime::from_timestamp_millis(updated_ms)
            .ok_or_else(|| StoreError::Corrupt(format!("timestamp {updated_ms} out of range")))?,
    })
}

/// A count for a BIGINT column. No chat holds 2⁶³ messages; saturate rather than fail.
fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl MappingStore {
    /// The saved progress of the backfill of `from` into `to`, if it ever started.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn progress(
        &self,
        from: &ChatRef,
        to: &ChatRef,
    ) -> Result<Option<Progress>, StoreError> {
        let query = sqlx::query(PROGRESS)
            .bind(from.platform.as_str())
            .bind(from.chat.as_str())
            .bind(to.platform.as_str())
            .bind(to.chat.as_str());
        let row = self.read_optional(query).await?;
        row.as_ref().map(progress_from).transpose()
    }

    /// Saves `p`, replacing the earlier progress of the same (source, target) pair. All
    /// fields are stored as given, `updated_at` to the millisecond.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn save_progress(&self, p: &Progress) -> Result<(), StoreError> {
        sqlx::query(SAVE_PROGRESS)
            .bind(p.from.platform.as_str())
            .bind(p.from.chat.as_str())
            .bind(p.to.platform.as_str())
            .bind(p.to.chat.as_str())
            .bind(p.cursor.as_ref().map(Cursor::as_str))
            .bind(to_db(p.copied))
            .bind(to_db(p.skipped))
            .bind(to_db(p.rejected))
            .bind(i64::from(p.done))
            .bind(p.updated_at.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every saved progress, ordered by source platform and chat, then target platform and
    /// chat (names and IDs compared bytewise).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn all_progress(&self) -> Result<Vec<Progress>, StoreError> {
        let rows = self.read_all(sqlx::query(ALL_PROGRESS)).await?;
        rows.iter().map(progress_from).collect()
    }
}
