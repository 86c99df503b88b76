//! `live_position` and `tombstone`: where each chat's live source stands, and the messages
//! deleted before they arrived.

use sqlx::Row;

use super::{MappingStore, StoreError, now_ms};
use crate::ids::{ChatRef, Cursor, MsgRef};

/// `$1..$2` = platform, chat.
const POSITION: &str = "SELECT position FROM live_position WHERE platform = $1 AND chat = $2";

/// `$1..$4` = platform, chat, position, now.
const SAVE_POSITION: &str = "INSERT INTO live_position (platform, chat, position, updated_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (platform, chat) DO UPDATE SET
        position = excluded.position, updated_at = excluded.updated_at";

/// `$1..$4` = platform, chat, msg, now. A second delete keeps the first one's time.
const ADD_TOMBSTONE: &str = "INSERT INTO tombstone (platform, chat, msg, deleted_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (platform, chat, msg) DO NOTHING";

/// `$1..$3` = platform, chat, msg.
const TOMBSTONE: &str = "SELECT 1 FROM tombstone WHERE platform = $1 AND chat = $2 AND msg = $3";

impl MappingStore {
    /// Where the live source of `chat` stood when last recorded: a restart catches up
    /// strictly after it.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn live_position(&self, chat: &ChatRef) -> Result<Option<Cursor>, StoreError> {
        let query = sqlx::query(POSITION)
            .bind(chat.platform.as_str())
            .bind(chat.chat.as_str());
        let row = self.read_optional(query).await?;
        Ok(row
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .map(Cursor::from))
    }

    /// Records that the live source of `chat` has been handled up to `position`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn save_live_position(
        &self,
        chat: &ChatRef,
        position: &Cursor,
    ) -> Result<(), StoreError> {
        sqlx::query(SAVE_POSITION)
            .bind(chat.platform.as_str())
            .bind(chat.chat.as_str())
            .bind(position.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that `msg` was deleted before (or without) its copy being made, so that a late
    /// arrival of it is not copied.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn add_tombstone(&self, msg: &MsgRef) -> Result<(), StoreError> {
        sqlx::query(ADD_TOMBSTONE)
            .bind(msg.platform.as_str())
            .bind(msg.chat.as_str())
            .bind(msg.msg.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `msg` was deleted before its copy was made.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn is_tombstoned(&self, msg: &MsgRef) -> Result<bool, StoreError> {
        let query = sqlx::query(TOMBSTONE)
            .bind(msg.platform.as_str())
            .bind(msg.chat.as_str())
            .bind(msg.msg.as_str());
        Ok(self.read_optional(query).await?.is_some())
    }
}
