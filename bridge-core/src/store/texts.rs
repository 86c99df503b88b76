//! `copy_text`: which parts of a copy carry its text, and the newest edit applied to it.
//!
//! A copy's text comes first in its parts (`Sink::text_parts` says how many). Without a row
//! here the text is part 0 alone. A copy whose text takes several parts gets a row when it is
//! made, and every edit the relay applies rewrites its row: an edit that needs more text parts
//! adds them after every part the copy ever had (`next_part`), one that needs fewer deletes the
//! surplus, and `edited_at` lets an older edit seen later be skipped.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    MappingStore, StoreError,
    copies::{AnyQuery, bind_key},
    count_at, now_ms,
    ops::{FORGET, MARK_DONE, bind_op},
};
use crate::ids::{ChatRef, MsgRef};

/// The text of one copy in one target chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextLayout {
    /// The parts that carry the text, in text order.
    pub parts: Vec<u32>,
    /// The part number the next text part an edit adds takes: above every part the copy ever
    /// had, so it never meets a file part or a part deleted earlier.
    pub next_part: u32,
    /// When the newest edit applied to the copy was made (to the millisecond).
    pub edited_at: Option<DateTime<Utc>>,
}

/// `$1..$5` = origin platform, chat, msg, target platform, chat.
const LAYOUT: &str = "SELECT parts, next_part, edited_at FROM copy_text
    WHERE origin_platform = $1 AND origin_chat = $2 AND origin_msg = $3
      AND platform = $4 AND chat = $5";

/// The start of both writes; `$6..$9` = parts, next part, edited at, now.
macro_rules! insert_text {
    () => {
        "INSERT INTO copy_text (origin_platform, origin_chat, origin_msg, platform, chat, parts,
            next_part, edited_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (origin_platform, origin_chat, origin_msg, platform, chat) "
    };
}

/// A layout already recorded (rewritten by edits since) stays.
const RECORD: &str = concat!(insert_text!(), "DO NOTHING");

const REPLACE: &str = concat!(
    insert_text!(),
    "DO UPDATE SET parts = excluded.parts, next_part = excluded.next_part,
        edited_at = excluded.edited_at, updated_at = excluded.updated_at"
);

/// Binds `layout` after the key, as `$6..$9`.
fn bind_layout<'q>(query: AnyQuery<'q>, layout: &TextLayout) -> AnyQuery<'q> {
    let parts: Vec<String> = layout.parts.iter().map(u32::to_string).collect();
    query
        .bind(parts.join(","))
        .bind(i64::from(layout.next_part))
        .bind(layout.edited_at.map(|t| t.timestamp_millis()))
        .bind(now_ms())
}

fn parse_parts(text: &str) -> Result<Vec<u32>, StoreError> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|_| StoreError::Corrupt(format!("bad text parts {text:?}")))
        })
        .collect()
}

impl MappingStore {
    /// What is recorded of the text of `origin`'s copy in `to`; `None`: its text is part 0.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; [`StoreError::Corrupt`] for a row this
    /// version cannot read.
    pub async fn text_layout(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
    ) -> Result<Option<TextLayout>, StoreError> {
        let row = self
            .read_optional(bind_key(sqlx::query(LAYOUT), origin, to))
            .await?;
        let Some(row) = row else { return Ok(None) };
        let edited_at = row
            .try_get::<Option<i64>, _>(2)?
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| StoreError::Corrupt(format!("edit time {ms} out of range")))
            })
            .transpose()?;
        Ok(Some(TextLayout {
            parts: parse_parts(&row.try_get::<String, _>(0)?)?,
            next_part: count_at(&row, 1)?,
            edited_at,
        }))
    }

    /// Records the text of `origin`'s copy in `to` unless it is already recorded (an edit may
    /// have changed it since: that stays).
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn record_text_layout(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        layout: &TextLayout,
    ) -> Result<(), StoreError> {
        bind_layout(bind_key(sqlx::query(RECORD), origin, to), layout)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Finishes the edit `op` of `origin`'s copy in `to`, in one transaction: the copy's text
    /// becomes `layout`, `op` is done, and the journal rows of its `steps` are forgotten. A
    /// crash leaves either all of it or none.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails; nothing is written then.
    pub async fn finish_edit(
        &self,
        op: &MsgRef,
        steps: &[MsgRef],
        origin: &MsgRef,
        to: &ChatRef,
        layout: &TextLayout,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        bind_layout(bind_key(sqlx::query(REPLACE), origin, to), layout)
            .execute(&mut *tx)
            .await?;
        bind_op(sqlx::query(MARK_DONE), op, to)
            .bind(None::<String>)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        for step in steps {
            bind_op(sqlx::query(FORGET), step, to)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
