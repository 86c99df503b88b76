//! `target` and `ghost`: what kbbridge created (or adopted) on a target, so re-runs reuse it.

use sqlx::Row;

use super::{MappingStore, StoreError, now_ms};
use crate::ids::{Platform, UserId};

/// `$1..$3` = platform, kind, key.
const TARGET: &str = "SELECT target_id FROM target WHERE platform = $1 AND kind = $2 AND key = $3";

/// `created_at` keeps the first save's time.
const SAVE_TARGET: &str = "INSERT INTO target (platform, kind, key, target_id, adopted, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (platform, kind, key) DO UPDATE SET
        target_id = excluded.target_id, adopted = excluded.adopted";

/// `$1..$3` = platform of the ghost, platform and ID of the source user.
const GHOST: &str = "SELECT ghost_id FROM ghost
    WHERE platform = $1 AND source_platform = $2 AND source_user = $3";

/// `created_at` keeps the first save's time.
const SAVE_GHOST: &str = "INSERT INTO ghost (platform, source_platform, source_user, ghost_id,
        display_name, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (platform, source_platform, source_user) DO UPDATE SET
        ghost_id = excluded.ghost_id, display_name = excluded.display_name";

impl MappingStore {
    /// The ID of the `kind` object (room, channel, webhook, space…) kbbridge uses on
    /// `platform` for `key` (an adapter-chosen name, such as a source chat), if it has one.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn target(
        &self,
        platform: Platform,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let query = sqlx::query(TARGET)
            .bind(platform.as_str())
            .bind(kind)
            .bind(key);
        let row = self.read_optional(query).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Saves `id` as the `kind` object on `platform` for `key`, replacing any earlier one.
    /// `adopted` says it existed before kbbridge (so kbbridge must never delete it).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn save_target(
        &self,
        platform: Platform,
        kind: &str,
        key: &str,
        id: &str,
        adopted: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(SAVE_TARGET)
            .bind(platform.as_str())
            .bind(kind)
            .bind(key)
            .bind(id)
            .bind(i64::from(adopted))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The ID of the user (or ghost) made on `on` for `user` of platform `source`, if any.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn ghost(
        &self,
        on: Platform,
        source: Platform,
        user: &UserId,
    ) -> Result<Option<String>, StoreError> {
        let query = sqlx::query(GHOST)
            .bind(on.as_str())
            .bind(source.as_str())
            .bind(user.as_str());
        let row = self.read_optional(query).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Saves `ghost`, shown as `display_name`, as the user made on `on` for `user` of
    /// platform `source`, replacing any earlier one.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn save_ghost(
        &self,
        on: Platform,
        source: Platform,
        user: &UserId,
        ghost: &str,
        display_name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(SAVE_GHOST)
            .bind(on.as_str())
            .bind(source.as_str())
            .bind(user.as_str())
            .bind(ghost)
            .bind(display_name)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
