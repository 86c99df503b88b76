//! `reaction_source`: each reaction the relay copied, under its own ID in its source chat, so
//! that a delete or redaction of that ID (how Keybase and Matrix report an un-reaction) finds
//! what it takes back.

use sqlx::Row;

use super::{MappingStore, StoreError, msg_ref_at, now_ms};
use crate::ids::{MsgRef, UserId};

/// A reaction as its source reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceReaction {
    /// The reaction's own ID, in the chat where it was made.
    pub id: MsgRef,
    /// The origin of the message reacted to.
    pub origin: MsgRef,
    /// Who reacted, by their ID on the source platform.
    pub sender: UserId,
    /// Their name as the source shows it (the name reaction copies are recorded under).
    pub sender_name: String,
    /// The emoji.
    pub emoji: String,
    /// Whether it has been taken back.
    pub removed: bool,
}

/// `$1..$3` = the reaction's platform, chat, ID; `$4..$6` = origin; `$7..$9` = sender ID,
/// name, emoji; `$10` = now. Recording it again changes nothing.
const RECORD: &str = "INSERT INTO reaction_source (platform, chat, reaction, origin_platform,
        origin_chat, origin_msg, sender_id, sender_name, emoji, removed_at, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)
    ON CONFLICT (platform, chat, reaction) DO NOTHING";

/// `$1..$3` = the reaction's platform, chat, ID.
const FIND: &str = "SELECT origin_platform, origin_chat, origin_msg, sender_id, sender_name,
        emoji, removed_at FROM reaction_source
    WHERE platform = $1 AND chat = $2 AND reaction = $3";

/// As [`FIND`], and `$4` = now. The first removal's time stays.
const REMOVE: &str = "UPDATE reaction_source SET removed_at = $4
    WHERE platform = $1 AND chat = $2 AND reaction = $3 AND removed_at IS NULL";

impl MappingStore {
    /// Records `reaction` (as not taken back), unless its ID is already recorded.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn record_source_reaction(
        &self,
        reaction: &SourceReaction,
    ) -> Result<(), StoreError> {
        sqlx::query(RECORD)
            .bind(reaction.id.platform.as_str())
            .bind(reaction.id.chat.as_str())
            .bind(reaction.id.msg.as_str())
            .bind(reaction.origin.platform.as_str())
            .bind(reaction.origin.chat.as_str())
            .bind(reaction.origin.msg.as_str())
            .bind(reaction.sender.as_str())
            .bind(reaction.sender_name.as_str())
            .bind(reaction.emoji.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The reaction whose own ID is `id`, if the relay recorded one.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn source_reaction(&self, id: &MsgRef) -> Result<Option<SourceReaction>, StoreError> {
        let query = sqlx::query(FIND)
            .bind(id.platform.as_str())
            .bind(id.chat.as_str())
            .bind(id.msg.as_str());
        let Some(row) = self.read_optional(query).await? else {
            return Ok(None);
        };
        Ok(Some(SourceReaction {
            id: id.clone(),
            origin: msg_ref_at(&row, 0)?,
            sender: UserId::new(row.try_get::<String, _>(3)?),
            sender_name: row.try_get(4)?,
            emoji: row.try_get(5)?,
            removed: row.try_get::<Option<i64>, _>(6)?.is_some(),
        }))
    }

    /// Records that the reaction `id` was taken back.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_source_reaction_removed(&self, id: &MsgRef) -> Result<(), StoreError> {
        sqlx::query(REMOVE)
            .bind(id.platform.as_str())
            .bind(id.chat.as_str())
            .bind(id.msg.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
