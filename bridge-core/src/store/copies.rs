//! `message_copy`: every part of every copy, under its origin.
//!
//! A row is keyed by (origin, target chat, part). Its state goes `pending` (written just before
//! the send) → `sent` (with the target message ID) or `rejected` (with the reason). Lookups
//! from a copy back to its origin go through `UNIQUE (platform, chat, msg)`; a message with no
//! row as a copy is an origin.

use std::{fmt::Write as _, sync::OnceLock};

use sqlx::{Any, Row, any::AnyArguments, query::Query};
use tracing::debug;

use super::{CopyRow, CopyState, MappingStore, SentCopy, StoreError, count_at, msg_ref_at, now_ms};
use crate::ids::{ChatRef, MsgId, MsgRef};

/// The start of every upsert into `message_copy`; `$N` numbering is up to each query.
macro_rules! on_copy_conflict {
    () => {
        " ON CONFLICT (origin_platform, origin_chat, origin_msg, platform, chat, part) \
         DO UPDATE SET "
    };
}

/// The start of every insert into `message_copy`: the columns, in the order each query's
/// `VALUES` lists them.
macro_rules! insert_copy {
    () => {
        "INSERT INTO message_copy (origin_platform, origin_chat, origin_msg, platform, chat, \
         part, msg, state, detail, created_at, updated_at) VALUES "
    };
}

/// `$1..$5` = origin platform, chat, msg, target platform, chat.
const COPIES: &str = "SELECT part, state, msg, detail FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3
      AND platform = $4 AND chat = $5
    ORDER BY part";

/// Every copy part of one origin, in every chat.
const COPIES_OF: &str = "SELECT platform, chat, part, state, msg, detail FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3
    ORDER BY platform, chat, part";

/// A sent row stays sent: its message exists on the target, whatever happens later.
const MARK_PENDING: &str = concat!(
    insert_copy!(),
    "($1, $2, $3, $4, $5, $6, NULL, 'pending', NULL, $7, $7)",
    on_copy_conflict!(),
    "state = 'pending', detail = NULL, updated_at = excluded.updated_at \
     WHERE message_copy.state <> 'sent'"
);

/// The conflict clause of `mark_sent` and `record_sent_batch`: whatever the row said, it is
/// sent now.
macro_rules! set_sent {
    () => {
        concat!(
            on_copy_conflict!(),
            "state = 'sent', msg = excluded.msg, detail = NULL, updated_at = excluded.updated_at"
        )
    };
}

const MARK_SENT: &str = concat!(
    insert_copy!(),
    "($1, $2, $3, $4, $5, $6, $7, 'sent', NULL, $8, $8)",
    set_sent!()
);

const MARK_REJECTED: &str = concat!(
    insert_copy!(),
    "($1, $2, $3, $4, $5, $6, NULL, 'rejected', $7, $8, $8)",
    on_copy_conflict!(),
    "state = 'rejected', msg = NULL, detail = excluded.detail, updated_at = excluded.updated_at"
);

/// As [`COPIES`], and `$6` = the part.
const REMOVE_PART: &str = "DELETE FROM message_copy
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3
      AND platform = $4 AND chat = $5 AND part = $6";

/// `$1..$3` = the copy's platform, chat, msg.
const ORIGIN_OF: &str = "SELECT origin_platform, origin_chat, origin_msg FROM message_copy
    WHERE platform = $1 AND chat = $2 AND msg = $3 AND state = 'sent'";

/// `$1..$3` = a message, `$4..$5` = a target chat. Exactly one row: the message's origin if
/// it is a sent copy (else NULLs), part 0 of that origin's sent copy in the target, and part 0
/// of the message's own sent copy in the target (for when it is an origin). One round trip
/// instead of `origin_of` then a second query: the lookup the engines make most.
const COPY_IN: &str = "SELECT s.origin_platform, s.origin_chat, s.origin_msg, x.msg,
        (SELECT y.msg FROM message_copy AS y
            WHERE y.origin_platform = $1 AND y.origin_chat = $2 AND y.origin_msg = $3
              AND y.platform = $4 AND y.chat = $5 AND y.part = 0 AND y.state = 'sent')
    FROM (SELECT 1 AS one) AS q
    LEFT JOIN message_copy AS s
        ON s.platform = $1 AND s.chat = $2 AND s.msg = $3 AND s.state = 'sent'
    LEFT JOIN message_copy AS x
        ON x.origin_platform = s.origin_platform AND x.origin_chat = s.origin_chat
       AND x.origin_msg = s.origin_msg AND x.platform = $4 AND x.chat = $5 AND x.part = 0
       AND x.state = 'sent'";

/// Values bound per row by `record_sent_batch`.
const PARAMS_PER_ROW: usize = 7;
/// Rows per `INSERT` in `record_sent_batch`: 701 parameters, well under SQLite's 32,766 and
/// PostgreSQL's 65,535. Not more: sqlx asks SQLite for each parameter's name, which SQLite finds
/// by a linear scan, so binding takes time quadratic in the parameter count (1,000 rows per
/// statement ran at 11,000 rows/s in the benchmark, 100 rows at 70,000 rows/s).
const ROWS_PER_INSERT: usize = 100;

/// A runtime query, as every query here is built.
pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Binds origin and target chat, in the order of [`COPIES`]' `$1..$5`.
pub(super) fn bind_key<'q>(
    query: AnyQuery<'q>,
    origin: &'q MsgRef,
    to: &'q ChatRef,
) -> AnyQuery<'q> {
    query
        .bind(origin.platform.as_str())
        .bind(origin.chat.as_str())
        .bind(origin.msg.as_str())
        .bind(to.platform.as_str())
        .bind(to.chat.as_str())
}

/// A multi-row upsert of `rows` sent copies: `$1` is the timestamp, then 7 values per row.
fn batch_insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(insert_copy!().len() + rows * 64 + set_sent!().len());
    sql.push_str(insert_copy!());
    for r in 0..rows {
        let b = 2 + r * PARAMS_PER_ROW;
        if r > 0 {
            sql.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(
            sql,
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 'sent', NULL, $1, $1)",
            b,
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        );
    }
    sql.push_str(set_sent!());
    sql
}

impl MappingStore {
    /// Every part of every copy of `origin`, with the chat it is in (by chat, then part).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn copies_everywhere(
        &self,
        origin: &MsgRef,
    ) -> Result<Vec<(ChatRef, CopyRow)>, StoreError> {
        let query = sqlx::query(COPIES_OF)
            .bind(origin.platform.as_str())
            .bind(origin.chat.as_str())
            .bind(origin.msg.as_str());
        let rows = self.read_all(query).await?;
        rows.iter()
            .map(|row| {
                let platform: String = row.try_get(0)?;
                let platform = crate::ids::Platform::parse(&platform)
                    .ok_or_else(|| StoreError::Corrupt(format!("platform {platform:?}")))?;
                let chat: String = row.try_get(1)?;
                Ok((
                    ChatRef::new(platform, chat),
                    CopyRow {
                        part: count_at(row, 2)?,
                        state: CopyState::parse(&row.try_get::<String, _>(3)?)?,
                        msg: row.try_get::<Option<String>, _>(4)?.map(MsgId::from),
                        detail: row.try_get(5)?,
                    },
                ))
            })
            .collect()
    }

    /// Every part of `origin`'s copy in `to`, by part number.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn copies(&self, origin: &MsgRef, to: &ChatRef) -> Result<Vec<CopyRow>, StoreError> {
        let rows = self
            .read_all(bind_key(sqlx::query(COPIES), origin, to))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(CopyRow {
                    part: count_at(row, 0)?,
                    state: CopyState::parse(&row.try_get::<String, _>(1)?)?,
                    msg: row.try_get::<Option<String>, _>(2)?.map(MsgId::from),
                    detail: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// Records that part `part` of `origin`'s copy in `to` is about to be sent. A pending or
    /// rejected row becomes pending again; a sent row is left as it is.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_pending(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        part: u32,
    ) -> Result<(), StoreError> {
        bind_key(sqlx::query(MARK_PENDING), origin, to)
            .bind(i64::from(part))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that part `part` of `origin`'s copy in `to` was delivered as `msg`, whatever
    /// the row said before.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails, or if `msg` in `to` is already recorded as
    /// a copy of something else.
    pub async fn mark_sent(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        part: u32,
        msg: &MsgId,
    ) -> Result<(), StoreError> {
        bind_key(sqlx::query(MARK_SENT), origin, to)
            .bind(i64::from(part))
            .bind(msg.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that `to` refused part `part` of `origin`'s copy for good, and why.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_rejected(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        part: u32,
        reason: &str,
    ) -> Result<(), StoreError> {
        bind_key(sqlx::query(MARK_REJECTED), origin, to)
            .bind(i64::from(part))
            // A reason quotes the target's error, which must not bring a secret into a row.
            .bind(crate::secret::redact(reason).as_ref())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets part `part` of `origin`'s copy in `to`: an edit deleted it from the target (or
    /// gave up sending it), and a later delete of the message must not look for it.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn remove_copy_part(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        part: u32,
    ) -> Result<(), StoreError> {
        bind_key(sqlx::query(REMOVE_PART), origin, to)
            .bind(i64::from(part))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records many sent copies at once, in one transaction (bulk imports, benchmarks). Rows
    /// already present become sent, as with [`MappingStore::mark_sent`].
    ///
    /// Each (origin, target chat, part) may appear only once per call.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails, if a target message is already a copy of
    /// something else, or (PostgreSQL) if a row appears twice. Nothing is written then.
    pub async fn record_sent_batch(&self, rows: &[SentCopy]) -> Result<(), StoreError> {
        static FULL_INSERT: OnceLock<String> = OnceLock::new();
        if rows.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let partial;
            let query = if chunk.len() == ROWS_PER_INSERT {
                sqlx::query(FULL_INSERT.get_or_init(|| batch_insert_sql(ROWS_PER_INSERT)))
            } else {
                // The last, shorter chunk of a call: not worth a slot in the statement cache.
                partial = batch_insert_sql(chunk.len());
                sqlx::query(&partial).persistent(false)
            };
            let mut query = query.bind(now);
            for row in chunk {
                query = bind_key(query, &row.origin, &row.to)
                    .bind(i64::from(row.part))
                    .bind(row.msg.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        debug!(rows = rows.len(), "recorded sent copies");
        Ok(())
    }

    /// Translates a message ID into chat `to`, from any chat of its group: `any` may be an
    /// origin or one of its sent copies. Returns the origin's ID if `to` is the origin's chat,
    /// else the ID of part 0 of the origin's sent copy in `to` (`None` if there is none).
    /// Used for replies and edits, in any direction.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn copy_in(&self, any: &MsgRef, to: &ChatRef) -> Result<Option<MsgId>, StoreError> {
        let row = self
            .read_one(bind_key(sqlx::query(COPY_IN), any, to))
            .await?;
        // Columns: 0..3 `any`'s origin if it is a copy, 3 that origin's part 0 in `to`, 4 the
        // part 0 in `to` of `any` itself as an origin.
        let (origin, part_zero) = if row.try_get::<Option<String>, _>(0)?.is_some() {
            (msg_ref_at(&row, 0)?, 3)
        } else {
            (any.clone(), 4)
        };
        if origin.platform == to.platform && origin.chat == to.chat {
            return Ok(Some(origin.msg));
        }
        Ok(row
            .try_get::<Option<String>, _>(part_zero)?
            .map(MsgId::from))
    }

    /// The origin of `copy`, if `copy` is a sent copy of something; `None` for an origin or a
    /// message the store does not know.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn origin_of(&self, copy: &MsgRef) -> Result<Option<MsgRef>, StoreError> {
        let query = sqlx::query(ORIGIN_OF)
            .bind(copy.platform.as_str())
            .bind(copy.chat.as_str())
            .bind(copy.msg.as_str());
        let row = self.read_optional(query).await?;
        row.map(|row| msg_ref_at(&row, 0)).transpose()
    }

    /// Whether `msg` is a copy kbbridge sent (the echo check of the live relay).
    ///
    /// # Errors
    /// As [`MappingStore::origin_of`].
    pub async fn is_copy(&self, msg: &MsgRef) -> Result<bool, StoreError> {
        Ok(self.origin_of(msg).await?.is_some())
    }
}
