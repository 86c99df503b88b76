//! Totals per (source chat, target chat) straight from `message_copy`, for `status`, `plan`
//! and the backfill report: they hold whatever stopped a run, since every part is recorded
//! before and after its send (progress rows are only written after each page).

use super::{MappingStore, StoreError, chat_ref_at, count_at};
use crate::ids::ChatRef;

/// The messages of one source chat in one target chat, by state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyTotals {
    /// The source chat.
    pub from: ChatRef,
    /// The target chat.
    pub to: ChatRef,
    /// Messages whose every recorded part is sent.
    pub copied: u64,
    /// Messages the target refused (any part rejected).
    pub rejected: u64,
    /// Messages with a part whose send was interrupted (pending): the next run asks the target
    /// whether it arrived before sending it again.
    pub pending: u64,
    /// Copied messages delivered without some attachments (a note stands in for each).
    pub degraded: u64,
}

/// Per message, then per chat pair. A degraded copy keeps its notes in its sent part 0's
/// `detail`.
const TOTALS: &str = "SELECT origin_platform, origin_chat, platform, chat,
        COUNT(CASE WHEN rejected = 0 AND pending = 0 THEN 1 END),
        COUNT(CASE WHEN rejected > 0 THEN 1 END),
        COUNT(CASE WHEN rejected = 0 AND pending > 0 THEN 1 END),
        COUNT(CASE WHEN rejected = 0 AND pending = 0 AND noted > 0 THEN 1 END)
    FROM (
        SELECT origin_platform, origin_chat, platform, chat,
               COUNT(CASE WHEN state = 'rejected' THEN 1 END) AS rejected,
               COUNT(CASE WHEN state = 'pending' THEN 1 END) AS pending,
               COUNT(CASE WHEN state = 'sent' AND part = 0 AND detail IS NOT NULL THEN 1 END)
                   AS noted
        FROM message_copy
        GROUP BY origin_platform, origin_chat, origin_msg, platform, chat
    ) per_message
    GROUP BY origin_platform, origin_chat, platform, chat
    ORDER BY origin_platform, origin_chat, platform, chat";

impl MappingStore {
    /// Totals for every (source chat, target chat) that has copy rows, ordered by source, then
    /// target.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a value this
    /// version cannot read.
    pub async fn copy_totals(&self) -> Result<Vec<CopyTotals>, StoreError> {
        let rows = self.read_all(sqlx::query(TOTALS)).await?;
        rows.iter()
            .map(|row| {
                Ok(CopyTotals {
                    from: chat_ref_at(row, 0)?,
                    to: chat_ref_at(row, 2)?,
                    copied: count_at(row, 4)?,
                    rejected: count_at(row, 5)?,
                    pending: count_at(row, 6)?,
                    degraded: count_at(row, 7)?,
                })
            })
            .collect()
    }
}
