//! Degraded copies: messages delivered without some of their attachments (a missing file, a
//! name that would leave the export folder, a file over the target's limit). The copy carries
//! a note instead of each file; the notes are kept in the `detail` of the copy's sent part 0,
//! which is otherwise empty, so no schema change is needed and re-runs skip them like any
//! sent copy.

use sqlx::Row;

use super::{MappingStore, StoreError, copies::bind_key, count_at, now_ms};
use crate::ids::{ChatRef, MsgRef};

/// A copy delivered without some of its attachments, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DegradedCopy {
    /// The source message.
    pub origin: MsgRef,
    /// The target chat.
    pub to: ChatRef,
    /// What the copy says in place of each missing file, one per line.
    pub notes: String,
}

/// `$1..$5` = origin platform, chat, msg, target platform, chat; `$6` the notes, `$7` now.
const MARK_DEGRADED: &str = "UPDATE message_copy SET detail = $6, updated_at = $7
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3
      AND platform = $4 AND chat = $5 AND part = 0 AND state = 'sent'";

/// `$1..$4` = source platform, chat, target platform, chat.
const DEGRADED: &str = "SELECT origin_msg, detail FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND platform = $3 AND chat = $4
      AND part = 0 AND state = 'sent' AND detail IS NOT NULL
    ORDER BY origin_msg";

/// `$1..$4` as in [`DEGRADED`].
const DEGRADED_COUNT: &str = "SELECT COUNT(*) FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND platform = $3 AND chat = $4
      AND part = 0 AND state = 'sent' AND detail IS NOT NULL";

impl MappingStore {
    /// Records that `origin`'s copy in `to` was delivered without some attachments: `notes`
    /// (one per line) say which and why. The copy's part 0 must be sent already.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_degraded(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        notes: &str,
    ) -> Result<(), StoreError> {
        bind_key(sqlx::query(MARK_DEGRADED), origin, to)
            .bind(notes)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The messages of chat `from` copied into `to` without some attachments, with their
    /// notes, ordered by origin message ID (bytewise).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn degraded(
        &self,
        from: &ChatRef,
        to: &ChatRef,
    ) -> Result<Vec<DegradedCopy>, StoreError> {
        let rows = self
            .read_all(bind_chats(sqlx::query(DEGRADED), from, to))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DegradedCopy {
                    origin: from.msg(row.try_get::<String, _>(0)?),
                    to: to.clone(),
                    notes: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// How many messages of chat `from` were copied into `to` without some attachments.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a value this
    /// version cannot read.
    pub async fn degraded_count(&self, from: &ChatRef, to: &ChatRef) -> Result<u64, StoreError> {
        let row = self
            .read_one(bind_chats(sqlx::query(DEGRADED_COUNT), from, to))
            .await?;
        count_at(&row, 0)
    }
}

/// Binds source and target chat, as `$1..$4`.
fn bind_chats<'q>(
    query: super::copies::AnyQuery<'q>,
    from: &'q ChatRef,
    to: &'q ChatRef,
) -> super::copies::AnyQuery<'q> {
    query
        .bind(from.platform.as_str())
        .bind(from.chat.as_str())
        .bind(to.platform.as_str())
        .bind(to.chat.as_str())
}
