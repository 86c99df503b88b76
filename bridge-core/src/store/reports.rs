//! What runs left behind in `message_copy`: pending parts to reconcile, rejected parts to
//! report, and per-chat counts.

use sqlx::Row;

use super::{MappingStore, RejectedCopy, StoreError, count_at, msg_ref_at};
use crate::ids::{ChatRef, MsgRef};

/// `$1..$2` = target platform, chat.
const PENDING_IN: &str = "SELECT origin_platform, origin_chat, origin_msg, part FROM message_copy
    WHERE platform = $1 AND chat = $2 AND state = 'pending'
    ORDER BY origin_platform, origin_chat, origin_msg, part";

/// `$1..$4` = source platform, chat, target platform, chat.
const REJECTED: &str = "SELECT origin_msg, part, detail FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND platform = $3 AND chat = $4
      AND state = 'rejected'
    ORDER BY origin_msg, part";

/// `$1..$4` as in [`REJECTED`]. Per origin message: copied when it has rows and none is
/// pending or rejected, rejected when any row is.
const COPY_COUNTS: &str = "SELECT
        COUNT(CASE WHEN rejected = 0 AND pending = 0 THEN 1 END),
        COUNT(CASE WHEN rejected > 0 THEN 1 END)
    FROM (
        SELECT COUNT(CASE WHEN state = 'rejected' THEN 1 END) AS rejected,
               COUNT(CASE WHEN state = 'pending' THEN 1 END) AS pending
        FROM message_copy
        WHERE origin_platform = $1 AND origin_chat = $2 AND platform = $3 AND chat = $4
        GROUP BY origin_msg
    ) per_message";

impl MappingStore {
    /// Every (origin, part) whose copy into `to` is still pending: a run stopped during its
    /// send, so the target may or may not have it. Ordered by origin, then part.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn pending_in(&self, to: &ChatRef) -> Result<Vec<(MsgRef, u32)>, StoreError> {
        let query = sqlx::query(PENDING_IN)
            .bind(to.platform.as_str())
            .bind(to.chat.as_str());
        let rows = self.read_all(query).await?;
        rows.iter()
            .map(|row| Ok((msg_ref_at(row, 0)?, count_at(row, 3)?)))
            .collect()
    }

    /// The parts of messages of chat `from` that chat `to` rejected, with the reasons, ordered
    /// by origin message ID (bytewise), then part.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn rejected(
        &self,
        from: &ChatRef,
        to: &ChatRef,
    ) -> Result<Vec<RejectedCopy>, StoreError> {
        let query = sqlx::query(REJECTED)
            .bind(from.platform.as_str())
            .bind(from.chat.as_str())
            .bind(to.platform.as_str())
            .bind(to.chat.as_str());
        let rows = self.read_all(query).await?;
        rows.iter()
            .map(|row| {
                Ok(RejectedCopy {
                    origin: from.msg(row.try_get::<String, _>(0)?),
                    to: to.clone(),
                    part: count_at(row, 1)?,
                    reason: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// How many messages of chat `from` are copied into `to` and how many were rejected, over
    /// all runs: `(copied, rejected)`. A message counts as copied when it has parts in `to`
    /// and none is pending or rejected, and as rejected when any part is rejected.
    ///
    /// The store does not know how many parts a message needs: a message whose later parts
    /// have no row yet (a run stopped between two parts) counts as copied. Writing every
    /// part's pending row before sending the first avoids that.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a value this
    /// version cannot read.
    pub async fn copy_counts(
        &self,
        from: &ChatRef,
        to: &ChatRef,
    ) -> Result<(u64, u64), StoreError> {
        let query = sqlx::query(COPY_COUNTS)
            .bind(from.platform.as_str())
            .bind(from.chat.as_str())
            .bind(to.platform.as_str())
            .bind(to.chat.as_str());
        let row = self.read_one(query).await?;
        Ok((count_at(&row, 0)?, count_at(&row, 1)?))
    }
}
