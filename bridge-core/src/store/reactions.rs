//! `reaction_copy`: each source user's reaction copied onto a target message. Where the
//! target keeps one reaction per emoji for the whole bridge (a bot account), the rows of one
//! (message, emoji) are its reference count.

use sqlx::Row;

use super::{MappingStore, StoreError, count_at, now_ms};
use crate::ids::{ChatRef, MsgId, MsgRef};

/// One source user's reaction on the copy of a message in one target chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionCopy {
    /// The origin of the message reacted to.
    pub origin: MsgRef,
    /// Who reacted, as the source names them.
    pub sender: String,
    /// The emoji, as the source gave it.
    pub emoji: String,
    /// The target chat.
    pub to: ChatRef,
    /// The target message the reaction is on (part 0 of the copy).
    pub msg: MsgId,
    /// The target reaction's own ID, where it has one.
    pub reaction: Option<MsgId>,
}

/// `$1..$9` = origin (3), sender, emoji, target platform, chat, msg, reaction; `$10` = now.
/// Recording the same reaction again changes nothing.
const ADD: &str = "INSERT INTO reaction_copy (origin_platform, origin_chat, origin_msg, sender,
        emoji, platform, chat, msg, reaction, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (origin_platform, origin_chat, origin_msg, sender, emoji, platform, chat)
    DO NOTHING";

/// `$1..$7` = origin (3), sender, emoji, target platform, chat.
const FIND: &str = "SELECT msg, reaction FROM reaction_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3 AND sender = $4
      AND emoji = $5 AND platform = $6 AND chat = $7";

/// As [`FIND`].
const REMOVE: &str = "DELETE FROM reaction_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3 AND sender = $4
      AND emoji = $5 AND platform = $6 AND chat = $7";

/// `$1..$4` = target platform, chat, msg, emoji.
const COUNT: &str = "SELECT COUNT(*) FROM reaction_copy
    WHERE platform = $1 AND chat = $2 AND msg = $3 AND emoji = $4";

impl MappingStore {
    /// Records `copy`; returns how many source users now share its (message, emoji) in the
    /// target, this one included. Recording it twice counts it once.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn add_reaction_copy(&self, copy: &ReactionCopy) -> Result<u64, StoreError> {
        sqlx::query(ADD)
            .bind(copy.origin.platform.as_str())
            .bind(copy.origin.chat.as_str())
            .bind(copy.origin.msg.as_str())
            .bind(copy.sender.as_str())
            .bind(copy.emoji.as_str())
            .bind(copy.to.platform.as_str())
            .bind(copy.to.chat.as_str())
            .bind(copy.msg.as_str())
            .bind(copy.reaction.as_ref().map(MsgId::as_str))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        self.reaction_count(&copy.to, &copy.msg, &copy.emoji).await
    }

    /// Removes `sender`'s `emoji` reaction on `origin`'s copy in `to`; returns it and how many
    /// source users still share its (message, emoji) there, or `None` when it was not
    /// recorded.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn remove_reaction_copy(
        &self,
        origin: &MsgRef,
        sender: &str,
        emoji: &str,
        to: &ChatRef,
    ) -> Result<Option<(ReactionCopy, u64)>, StoreError> {
        let bind = |sql| {
            sqlx::query(sql)
                .bind(origin.platform.as_str())
                .bind(origin.chat.as_str())
                .bind(origin.msg.as_str())
                .bind(sender)
                .bind(emoji)
                .bind(to.platform.as_str())
                .bind(to.chat.as_str())
        };
        let Some(row) = bind(FIND).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let copy = ReactionCopy {
            origin: origin.clone(),
            sender: sender.to_owned(),
            emoji: emoji.to_owned(),
            to: to.clone(),
            msg: MsgId::new(row.try_get::<String, _>(0)?),
            reaction: row.try_get::<Option<String>, _>(1)?.map(MsgId::new),
        };
        bind(REMOVE).execute(&self.pool).await?;
        let left = self.reaction_count(to, &copy.msg, emoji).await?;
        Ok(Some((copy, left)))
    }

    /// How many source users share `emoji` on the target message `msg` in `to`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn reaction_count(
        &self,
        to: &ChatRef,
        msg: &MsgId,
        emoji: &str,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query(COUNT)
            .bind(to.platform.as_str())
            .bind(to.chat.as_str())
            .bind(msg.as_str())
            .bind(emoji)
            .fetch_one(&self.pool)
            .await?;
        count_at(&row, 0)
    }
}
