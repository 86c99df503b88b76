//! `op_copy`: edits, deletes and reactions applied to a target chat, journalled like parts
//! (`pending` before, `done` after), so a crash never applies one twice or loses it.

use sqlx::Row;

use super::{MappingStore, StoreError, now_ms};
use crate::ids::{ChatRef, MsgRef};

/// The state of one operation in one target chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpState {
    /// Written just before it was applied; whether it took effect is unknown.
    Pending,
    /// Applied; `result` is what the target gave back (a reaction's own ID), if anything.
    Done {
        /// The target's result.
        result: Option<String>,
    },
}

/// `$1..$5` = source platform, chat, op, target platform, chat.
const OP: &str = "SELECT state, result FROM op_copy
    WHERE source_platform = $1 AND source_chat = $2 AND source_op = $3
      AND platform = $4 AND chat = $5";

/// `$6` = now. A done row stays done.
const MARK_PENDING: &str = "INSERT INTO op_copy (source_platform, source_chat, source_op,
        platform, chat, state, result, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'pending', NULL, $6, $6)
    ON CONFLICT (source_platform, source_chat, source_op, platform, chat) DO NOTHING";

/// `$6` = result, `$7` = now.
pub(super) const MARK_DONE: &str = "INSERT INTO op_copy (source_platform, source_chat, source_op,
        platform, chat, state, result, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'done', $6, $7, $7)
    ON CONFLICT (source_platform, source_chat, source_op, platform, chat) DO UPDATE SET
        state = 'done', result = excluded.result, updated_at = excluded.updated_at";

/// As [`OP`].
pub(super) const FORGET: &str = "DELETE FROM op_copy
    WHERE source_platform = $1 AND source_chat = $2 AND source_op = $3
      AND platform = $4 AND chat = $5";

pub(super) fn bind_op<'q>(
    query: super::copies::AnyQuery<'q>,
    op: &'q MsgRef,
    to: &'q ChatRef,
) -> super::copies::AnyQuery<'q> {
    query
        .bind(op.platform.as_str())
        .bind(op.chat.as_str())
        .bind(op.msg.as_str())
        .bind(to.platform.as_str())
        .bind(to.chat.as_str())
}

impl MappingStore {
    /// What is recorded of the operation `op` (an edit, delete or reaction, by its own ID in
    /// its source) in the target chat `to`.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a state this
    /// version cannot read.
    pub async fn op_state(&self, op: &MsgRef, to: &ChatRef) -> Result<Option<OpState>, StoreError> {
        let row = self.read_optional(bind_op(sqlx::query(OP), op, to)).await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get(0)?;
        match state.as_str() {
            "pending" => Ok(Some(OpState::Pending)),
            "done" => Ok(Some(OpState::Done {
                result: row.try_get(1)?,
            })),
            other => Err(StoreError::Corrupt(format!("unknown op state {other:?}"))),
        }
    }

    /// Records that `op` is about to be applied to `to` (a done one stays done).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_op_pending(&self, op: &MsgRef, to: &ChatRef) -> Result<(), StoreError> {
        bind_op(sqlx::query(MARK_PENDING), op, to)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that `op` was applied to `to`, with what the target gave back.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_op_done(
        &self,
        op: &MsgRef,
        to: &ChatRef,
        result: Option<&str>,
    ) -> Result<(), StoreError> {
        bind_op(sqlx::query(MARK_DONE), op, to)
            .bind(result)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets `op` in `to`, so the same operation may be applied again (a reaction taken back
    /// and then given again).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn forget_op(&self, op: &MsgRef, to: &ChatRef) -> Result<(), StoreError> {
        bind_op(sqlx::query(FORGET), op, to)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
