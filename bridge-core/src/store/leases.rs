//! `lease`: one writer per link, across processes and machines sharing one store.
//!
//! A lease has a name (what it guards: a link, the setup of a platform's chats), a holder (one
//! process), an expiry and an epoch. Acquiring succeeds when the lease is free or expired and
//! bumps the epoch; the holder renews it well before it expires; releasing ends it at once. A
//! holder that stopped renewing (killed, hung, cut off from the database) loses the lease at its
//! expiry, and the next taker's higher epoch fences it out: [`MappingStore::mark_pending_fenced`]
//! refuses to record a send for a lease that is no longer held, so a send is never made under a
//! lost lease.
//!
//! Times are the database's clock, not each process's: holders on several machines then agree
//! on expiries whatever their own clocks say.

use std::{sync::OnceLock, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Backend, MappingStore, StoreError, copies::AnyQuery, now_ms};
use crate::ids::{ChatRef, MsgRef};

/// A lease held by this process: what a fenced write presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// What the lease guards.
    pub name: String,
    /// Who holds it (this process).
    pub holder: String,
    /// Grows by one at every acquisition: a lower epoch is a former holder.
    pub epoch: i64,
}

/// A lease as the store records it, for waiting messages and `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    /// What the lease guards.
    pub name: String,
    /// Its last holder.
    pub holder: String,
    /// Its epoch.
    pub epoch: i64,
    /// When its holder took it.
    pub acquired_at: DateTime<Utc>,
    /// When it ends unless renewed; a time in the past means it is free.
    pub expires_at: DateTime<Utc>,
    /// Whether it was still held when read (by the database's clock).
    pub active: bool,
}

/// The database's clock in milliseconds since the Unix epoch, as an SQL expression.
fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// `$1` name, `$2` holder, `$3` lifetime in ms. A row exists only for a lease ever taken; an
/// expired one, or one the same holder left behind (a task of this process that was dropped),
/// is taken with the next epoch. Returns the new epoch, or no row when another holds it.
fn acquire_sql(backend: Backend) -> String {
    let now = now_sql(backend);
    format!(
        "INSERT INTO lease (name, holder, epoch, acquired_at, expires_at)
         VALUES ($1, $2, 1, {now}, {now} + $3)
         ON CONFLICT (name) DO UPDATE SET
             holder = excluded.holder, epoch = lease.epoch + 1,
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
         WHERE lease.expires_at <= {now} OR lease.holder = excluded.holder
         RETURNING epoch"
    )
}

/// `$1..$3` the lease, `$4` lifetime in ms. Renewing needs only the epoch to match: nobody
/// else can have taken the lease without bumping it.
fn renew_sql(backend: Backend) -> String {
    let now = now_sql(backend);
    format!(
        "UPDATE lease SET expires_at = {now} + $4
         WHERE name = $1 AND holder = $2 AND epoch = $3"
    )
}

/// `$1..$3` the lease.
fn release_sql(backend: Backend) -> String {
    let now = now_sql(backend);
    format!(
        "UPDATE lease SET expires_at = {now}
         WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > {now}"
    )
}

/// `$1..$3` the lease: one row when it is held now.
fn held_sql(backend: Backend) -> String {
    let now = now_sql(backend);
    format!(
        "SELECT 1 FROM lease
         WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > {now}"
    )
}

/// Every lease (or the one named `$1`), with whether it is held now.
fn info_sql(backend: Backend, one: bool) -> String {
    let now = now_sql(backend);
    let filter = if one { "WHERE name = $1" } else { "" };
    format!(
        "SELECT name, holder, epoch, acquired_at, expires_at,
                CAST(CASE WHEN expires_at > {now} THEN 1 ELSE 0 END AS BIGINT)
         FROM lease {filter} ORDER BY name"
    )
}

/// `mark_pending`, written only while the lease `$8..$10` is held. A sent row stays sent.
/// Built once per backend: it runs before every send.
fn fenced_pending_sql(backend: Backend) -> &'static str {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let cell = match backend {
        Backend::Sqlite => &SQL[0],
        Backend::Postgres => &SQL[1],
    };
    cell.get_or_init(|| {
        let now = now_sql(backend);
        format!(
            "INSERT INTO message_copy (origin_platform, origin_chat, origin_msg, platform, chat,
             part, msg, state, detail, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, NULL, 'pending', NULL, $7, $7
         WHERE EXISTS (SELECT 1 FROM lease
             WHERE name = $8 AND holder = $9 AND epoch = $10 AND expires_at > {now})
         ON CONFLICT (origin_platform, origin_chat, origin_msg, platform, chat, part)
         DO UPDATE SET state = 'pending', detail = NULL, updated_at = excluded.updated_at
         WHERE message_copy.state <> 'sent'"
        )
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn time_at(row: &AnyRow, i: usize) -> Result<DateTime<Utc>, StoreError> {
    let ms: i64 = row.try_get(i)?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("time {ms} out of range")))
}

fn info_from(row: &AnyRow) -> Result<LeaseInfo, StoreError> {
    Ok(LeaseInfo {
        name: row.try_get(0)?,
        holder: row.try_get(1)?,
        epoch: row.try_get(2)?,
        acquired_at: time_at(row, 3)?,
        expires_at: time_at(row, 4)?,
        active: row.try_get::<i64, _>(5)? != 0,
    })
}

fn bind_lease<'q>(query: AnyQuery<'q>, lease: &'q Lease) -> AnyQuery<'q> {
    query
        .bind(lease.name.as_str())
        .bind(lease.holder.as_str())
        .bind(lease.epoch)
}

impl MappingStore {
    /// Takes the lease `name` for `holder` for `ttl`, if it is free, expired, or already
    /// `holder`'s (one process must not run two holders of one name at once: the caller
    /// orders its own tasks, see `bridge_core::lease`).
    ///
    /// Returns the lease, or (`Err` inside `Ok`) who holds it now and until when.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Result<Lease, LeaseInfo>, StoreError> {
        let sql = acquire_sql(self.backend);
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .bind(millis(ttl))
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok(Ok(Lease {
                name: name.to_owned(),
                holder: holder.to_owned(),
                epoch: row.try_get(0)?,
            }));
        }
        match self.lease_info(name).await? {
            Some(info) => Ok(Err(info)),
            // Released between the two queries: the caller simply tries again.
            None => Err(StoreError::Corrupt(format!(
                "lease {name:?} was neither free nor held"
            ))),
        }
    }

    /// Extends a held lease to `ttl` from now. `false`: it was lost (taken over after it
    /// expired); the holder must stop writing at once.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let sql = renew_sql(self.backend);
        let done = bind_lease(sqlx::query(&sql), lease)
            .bind(millis(ttl))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a held lease now, so the next taker need not wait for its expiry. Releasing a lease
    /// already lost does nothing.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let sql = release_sql(self.backend);
        bind_lease(sqlx::query(&sql), lease)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `lease` is still held, by the database's clock.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn lease_held(&self, lease: &Lease) -> Result<bool, StoreError> {
        let sql = held_sql(self.backend);
        let row = bind_lease(sqlx::query(&sql), lease)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The lease named `name`, if it was ever taken.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn lease_info(&self, name: &str) -> Result<Option<LeaseInfo>, StoreError> {
        let sql = info_sql(self.backend, true);
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(info_from).transpose()
    }

    /// Every lease ever taken, by name.
    ///
    /// # Errors
    /// [`StoreError::Query`] if the database fails.
    pub async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError> {
        let sql = info_sql(self.backend, false);
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(info_from).collect()
    }

    /// [`MappingStore::mark_pending`], only while `lease` is held: the last check before a
    /// send, in the same statement as the write, so no other holder can slip in between.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `lease` is no longer held (nothing is written);
    /// [`StoreError::Query`] if the database fails.
    pub async fn mark_pending_fenced(
        &self,
        origin: &MsgRef,
        to: &ChatRef,
        part: u32,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        let sql = fenced_pending_sql(self.backend);
        let done = sqlx::query(sql)
            .bind(origin.platform.as_str())
            .bind(origin.chat.as_str())
            .bind(origin.msg.as_str())
            .bind(to.platform.as_str())
            .bind(to.chat.as_str())
            .bind(i64::from(part))
            .bind(now_ms())
            .bind(lease.name.as_str())
            .bind(lease.holder.as_str())
            .bind(lease.epoch)
            .execute(&self.pool)
            .await?;
        // No row written: either the lease is lost, or the part was already sent (which the
        // engine does not ask for, but then nothing needs writing).
        if done.rows_affected() == 0 && !self.lease_held(lease).await? {
            return Err(StoreError::LeaseLost {
                name: lease.name.clone(),
            });
        }
        Ok(())
    }
}
