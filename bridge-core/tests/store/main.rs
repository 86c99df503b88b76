//! The mapping store, against SQLite (a temporary file) and PostgreSQL.
//!
//! Each `store_test!` runs its body twice: `<name>::sqlite` and `<name>::postgres`. The
//! PostgreSQL half uses `KBBRIDGE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and a fresh schema per test, dropped afterwards. If the server cannot be reached, the half
//! fails when `CI` is set or `KBBRIDGE_REQUIRE_POSTGRES=1`, and is skipped (with a `SKIPPED:`
//! line on stderr) otherwise.

use std::{future::Future, io::Write as _, path::PathBuf, str::FromStr, time::Duration};

use bridge_core::{
    ChatRef, MappingStore, MsgId, MsgRef, Platform, StoreError, UserId,
    store::{Backend, CopyRow, CopyState, Progress, RejectedCopy, SentCopy},
};
use chrono::DateTime;
use sqlx::{
    Connection, Executor, Row,
    postgres::{PgConnectOptions, PgConnection},
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One database to test against.
#[derive(Clone, Debug)]
struct Db {
    backend: Backend,
    url: String,
    /// SQLite: the database file.
    file: Option<PathBuf>,
    /// PostgreSQL: the test's schema and a URL to inspect it with.
    schema: Option<(String, String)>,
}

impl Db {
    async fn open(&self) -> MappingStore {
        match MappingStore::open(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("cannot open the {:?} store: {e}", self.backend),
        }
    }
}

async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("kbbridge.db");
    let url = format!("sqlite://{}", file.display());
    body(Db {
        backend: Backend::Sqlite,
        url,
        file: Some(file),
        schema: None,
    })
    .await;
}

async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = std::env::var("KBBRIDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let mut admin = match tokio::time::timeout(Duration::from_secs(10), connect_pg(&base)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return unreachable_postgres(&base, &e.to_string()),
        Err(_) => return unreachable_postgres(&base, "timed out after 10 s"),
    };
    let schema = format!("kbt_{:016x}", rand::random::<u64>());
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let db = Db {
        backend: Backend::Postgres,
        url,
        file: None,
        schema: Some((schema, base)),
    };
    let schema = db.schema.clone().map(|(s, _)| s).unwrap_or_default();
    // In a task of its own, so a failing body still gets its schema dropped.
    let outcome = tokio::spawn(body(db)).await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop schema");
    let _ = admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn connect_pg(url: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await
}

fn unreachable_postgres(url: &str, error: &str) {
    // Show where, never the password.
    let shown = PgConnectOptions::from_str(url).map_or_else(
        |_| "KBBRIDGE_TEST_POSTGRES_URL (unparsable)".to_owned(),
        |o| {
            let db = o.get_database().unwrap_or_default();
            format!(
                "postgres://{}@{}:{}/{db}",
                o.get_username(),
                o.get_host(),
                o.get_port()
            )
        },
    );
    let required = std::env::var_os("CI").is_some()
        || std::env::var("KBBRIDGE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if required {
        panic!(
            "PostgreSQL not reachable at {shown} ({error}), and CI or KBBRIDGE_REQUIRE_POSTGRES=1 \
             requires it; set KBBRIDGE_TEST_POSTGRES_URL"
        );
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`, and this line
    // must be seen even though the test passes.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: PostgreSQL not reachable at {shown} ({error}); set KBBRIDGE_TEST_POSTGRES_URL"
    );
}

/// A test written once, run against both backends.
macro_rules! store_test {
    ($(#[doc = $doc:literal])* async fn $name:ident($db:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn body($db: Db) $body

            #[tokio::test]
            async fn sqlite() {
                on_sqlite(body).await;
            }

            #[tokio::test]
            async fn postgres() {
                on_postgres(body).await;
            }
        }
    };
}

fn kb() -> ChatRef {
    ChatRef::new(Platform::Keybase, "acme#general")
}
fn dc() -> ChatRef {
    ChatRef::new(Platform::Discord, "1100000000000000001")
}
fn mx() -> ChatRef {
    ChatRef::new(Platform::Matrix, "!room:example.org")
}
fn id(s: &str) -> Option<MsgId> {
    Some(MsgId::new(s))
}
fn sent(part: u32, msg: &str) -> CopyRow {
    CopyRow {
        part,
        state: CopyState::Sent,
        msg: id(msg),
        detail: None,
    }
}
fn progress(from: ChatRef, to: ChatRef, cursor: Option<&str>, copied: u64) -> Progress {
    Progress {
        from,
        to,
        cursor: cursor.map(Into::into),
        copied,
        skipped: 2,
        rejected: 1,
        done: cursor.is_none(),
        updated_at: DateTime::from_timestamp_millis(1_700_000_000_123).expect("valid time"),
    }
}

mod copies;
mod degraded;
mod handoff;
mod inbox;
mod leases;
mod open;
mod records;
mod relay;
