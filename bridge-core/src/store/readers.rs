//! Lookups on a SQLite file, past the pool.
//!
//! sqlx's pool pings every connection it takes back. For SQLite that ping is a second round
//! trip to the connection's worker thread, as costly as a lookup itself: with it, concurrent
//! lookups ran at ~70,000/s in a micro-benchmark, without it at ~110,000/s. So reads on a SQLite
//! file use a few connections of their own, each behind a lock, while writes, transactions and
//! migrations keep the pool. Reads see every committed write: in WAL mode each statement
//! outside a transaction reads the latest commit. PostgreSQL and `sqlite::memory:` (where each
//! connection is a database of its own) read through the pool.

use std::{
    fmt,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use sqlx::{AnyConnection, Connection, Executor, any::AnyRow};
use tokio::sync::{Mutex, MutexGuard};
use tracing::debug;

use super::{MappingStore, copies::AnyQuery, open::SQLITE_PRAGMAS};

/// Read-only connections to one SQLite file, opened on first use and reopened after an error.
pub(super) struct Readers {
    url: String,
    slots: Box<[Mutex<Option<AnyConnection>>]>,
    /// The slot to wait for when none is free, in turn, so waiting tasks spread over them.
    next: AtomicUsize,
    closed: AtomicBool,
}

impl fmt::Debug for Readers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readers")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// One reader connection, held until dropped.
struct Reader<'a>(MutexGuard<'a, Option<AnyConnection>>);

impl Readers {
    /// `count` connections to `url`, a SQLite URL without credentials.
    pub(super) fn new(url: String, count: usize) -> Self {
        Self {
            url,
            slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// A free connection if there is one, else the next to be freed of one slot in turn.
    async fn get(&self) -> Result<Reader<'_>, sqlx::Error> {
        // The first free slot: a lone task keeps reusing the same connection (and its warm page
        // cache); only concurrent reads spread over more.
        let free = self.slots.iter().find_map(|slot| slot.try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => {
                let next = self.next.fetch_add(1, Ordering::Relaxed);
                self.slots[next % self.slots.len()].lock().await
            }
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        if slot.is_none() {
            *slot = Some(connect(&self.url).await?);
        }
        Ok(Reader(slot))
    }

    /// Closes every connection; later reads fail with [`sqlx::Error::PoolClosed`].
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in &self.slots {
            if let Some(conn) = slot.lock().await.take() {
                if let Err(error) = conn.close().await {
                    debug!(error = %crate::Report::new(&error), "closing a reader connection failed");
                }
            }
        }
    }
}

/// A connection with the store's PRAGMAs, refusing writes.
async fn connect(url: &str) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect(url).await?;
    for pragma in SQLITE_PRAGMAS.iter().chain(&["PRAGMA query_only = ON"]) {
        conn.execute(*pragma).await?;
    }
    Ok(conn)
}

impl Reader<'_> {
    /// Runs `query` for at most one row. After an error the connection is dropped, to be
    /// reopened by the next read, as sqlx's pool would.
    async fn fetch_optional(&mut self, query: AnyQuery<'_>) -> Result<Option<AnyRow>, sqlx::Error> {
        let conn = self.0.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        let result = query.fetch_optional(conn).await;
        if result.is_err() {
            self.0.take();
        }
        result
    }

    /// Runs `query` for all its rows; errors as [`Reader::fetch_optional`].
    async fn fetch_all(&mut self, query: AnyQuery<'_>) -> Result<Vec<AnyRow>, sqlx::Error> {
        let conn = self.0.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        let result = query.fetch_all(conn).await;
        if result.is_err() {
            self.0.take();
        }
        result
    }
}

impl MappingStore {
    /// Runs a read-only `query` for at most one row.
    pub(super) async fn read_optional(
        &self,
        query: AnyQuery<'_>,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        match &self.readers {
            Some(readers) => readers.get().await?.fetch_optional(query).await,
            None => query.fetch_optional(&self.pool).await,
        }
    }

    /// Runs a read-only `query` that always returns a row.
    pub(super) async fn read_one(&self, query: AnyQuery<'_>) -> Result<AnyRow, sqlx::Error> {
        self.read_optional(query)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Runs a read-only `query` for all its rows.
    pub(super) async fn read_all(&self, query: AnyQuery<'_>) -> Result<Vec<AnyRow>, sqlx::Error> {
        match &self.readers {
            Some(readers) => readers.get().await?.fetch_all(query).await,
            None => query.fetch_all(&self.pool).await,
        }
    }
}
