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

store_test! {
    /// Opening creates the database: the SQLite file in WAL mode, the tables in the schema.
    async fn open_creates_the_database(db) {
        if let Some(file) = &db.file {
            assert!(!file.exists());
        }
        let store = db.open().await;
        assert_eq!(store.backend(), db.backend);
        assert!(store.all_progress().await.expect("all_progress").is_empty());
        if let Some(file) = &db.file {
            assert!(file.exists(), "the SQLite file was not created");
            let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(file))
                .await
                .expect("plain connection");
            let mode: String = conn.fetch_one("PRAGMA journal_mode").await.expect("pragma").get(0);
            assert_eq!(mode, "wal");
        }
        if let Some((schema, admin)) = &db.schema {
            // The search_path option reached the server: the tables are in the test's schema.
            let mut conn = connect_pg(admin).await.expect("plain connection");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = $1 ORDER BY 1",
            )
            .bind(schema)
            .fetch_all(&mut conn)
            .await
            .expect("list tables");
            let expected =
                ["_sqlx_migrations", "backfill_progress", "ghost", "message_copy", "target"];
            assert_eq!(tables, expected);
        }
        store.close().await;
    }
}

store_test! {
    /// Reopening runs the migrations again (a no-op) and keeps every table's rows.
    async fn reopen_keeps_data(db) {
        let store = db.open().await;
        let origin = kb().msg("1");
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d1")).await.expect("mark_sent");
        store.mark_pending(&origin, &mx(), 0).await.expect("mark_pending");
        let p = progress(kb(), dc(), Some("c1"), 1);
        store.save_progress(&p).await.expect("save_progress");
        store.save_target(Platform::Discord, "webhook", "acme#general", "w1", false).await.unwrap();
        let alice = UserId::new("alice");
        store.save_ghost(Platform::Matrix, Platform::Keybase, &alice, "@kb_alice:x", "alice")
            .await
            .unwrap();
        store.close().await;
        // A closed store refuses reads and writes alike.
        assert!(matches!(store.origin_of(&dc().msg("d1")).await, Err(StoreError::Query(_))));
        assert!(matches!(store.mark_pending(&origin, &dc(), 1).await, Err(StoreError::Query(_))));

        for _ in 0..2 {
            let store = db.open().await;
            assert_eq!(store.copy_in(&origin, &dc()).await.unwrap(), id("d1"));
            assert_eq!(store.pending_in(&mx()).await.unwrap(), [(origin.clone(), 0)]);
            assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), Some(p.clone()));
            let target = store.target(Platform::Discord, "webhook", "acme#general").await.unwrap();
            assert_eq!(target.as_deref(), Some("w1"));
            let ghost = store.ghost(Platform::Matrix, Platform::Keybase, &alice).await.unwrap();
            assert_eq!(ghost.as_deref(), Some("@kb_alice:x"));
            store.close().await;
        }
    }
}

store_test! {
    /// pending → sent, then lookups from any member of the group into any chat.
    async fn copies_translate_across_three_platforms(db) {
        let store = db.open().await;
        let origin = kb().msg("100");
        store.mark_pending(&origin, &dc(), 0).await.unwrap();
        let pending = CopyRow { part: 0, state: CopyState::Pending, msg: None, detail: None };
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [pending]);
        assert_eq!(store.copy_in(&origin, &dc()).await.unwrap(), None);
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_pending(&origin, &mx(), 0).await.unwrap();
        store.mark_sent(&origin, &mx(), 0, &MsgId::new("$m1")).await.unwrap();
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [sent(0, "d1")]);
        assert_eq!(store.copies(&origin, &mx()).await.unwrap(), [sent(0, "$m1")]);

        let (d, m) = (dc().msg("d1"), mx().msg("$m1"));
        assert_eq!(store.origin_of(&d).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.origin_of(&m).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.origin_of(&origin).await.unwrap(), None);
        assert!(store.is_copy(&d).await.unwrap());
        assert!(store.is_copy(&m).await.unwrap());
        assert!(!store.is_copy(&origin).await.unwrap());
        assert!(!store.is_copy(&dc().msg("d2")).await.unwrap());

        for (from, to, want) in [
            (&origin, dc(), "d1"),
            (&origin, mx(), "$m1"),
            (&origin, kb(), "100"),
            (&d, mx(), "$m1"),
            (&m, dc(), "d1"),
            (&d, kb(), "100"),
            (&m, kb(), "100"),
            (&d, dc(), "d1"),
        ] {
            assert_eq!(store.copy_in(from, &to).await.unwrap(), id(want), "{from} into {to}");
        }
        let elsewhere = ChatRef::new(Platform::Discord, "1100000000000000002");
        assert_eq!(store.copy_in(&origin, &elsewhere).await.unwrap(), None);
        assert_eq!(store.copy_in(&kb().msg("999"), &dc()).await.unwrap(), None);
        assert_eq!(store.copy_in(&kb().msg("999"), &kb()).await.unwrap(), id("999"));

        // The other direction: a Discord message relayed to Keybase.
        let live = dc().msg("d7");
        store.mark_sent(&live, &kb(), 0, &MsgId::new("101")).await.unwrap();
        assert_eq!(store.copy_in(&kb().msg("101"), &dc()).await.unwrap(), id("d7"));
        assert_eq!(store.origin_of(&kb().msg("101")).await.unwrap(), Some(live));
        assert_eq!(store.origin_of(&kb().msg("100")).await.unwrap(), None);
    }
}

store_test! {
    /// A message copied as several parts: rows by part, lookups give part 0.
    async fn parts_translate_to_part_zero(db) {
        let store = db.open().await;
        let origin = kb().msg("5");
        for (part, msg) in [(2, "$p2"), (0, "$p0"), (1, "$p1")] {
            store.mark_pending(&origin, &mx(), part).await.unwrap();
            store.mark_sent(&origin, &mx(), part, &MsgId::new(msg)).await.unwrap();
        }
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d9")).await.unwrap();
        let rows = store.copies(&origin, &mx()).await.unwrap();
        assert_eq!(rows, [sent(0, "$p0"), sent(1, "$p1"), sent(2, "$p2")]);
        assert_eq!(store.copy_in(&origin, &mx()).await.unwrap(), id("$p0"));
        assert_eq!(store.origin_of(&mx().msg("$p2")).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.copy_in(&mx().msg("$p1"), &dc()).await.unwrap(), id("d9"));
        assert_eq!(store.copy_in(&dc().msg("d9"), &mx()).await.unwrap(), id("$p0"));
        assert_eq!(store.copy_in(&mx().msg("$p2"), &mx()).await.unwrap(), id("$p0"));

        // Only part 0 stands for the message: none while it is still pending.
        let half = kb().msg("6");
        store.mark_pending(&half, &mx(), 0).await.unwrap();
        store.mark_sent(&half, &mx(), 1, &MsgId::new("$h1")).await.unwrap();
        assert_eq!(store.copy_in(&half, &mx()).await.unwrap(), None);
        assert_eq!(store.copy_in(&mx().msg("$h1"), &kb()).await.unwrap(), id("6"));
    }
}

store_test! {
    /// Pending parts stay pending, are listed by target chat, and are not lookups' answers.
    async fn pending_parts_are_listed(db) {
        let store = db.open().await;
        let (o1, o2, o3) = (kb().msg("1"), kb().msg("2"), kb().msg("3"));
        for (origin, to, part) in [(&o2, dc(), 0), (&o1, dc(), 1), (&o1, dc(), 0), (&o3, mx(), 0)] {
            store.mark_pending(origin, &to, part).await.unwrap();
        }
        store.mark_pending(&o2, &dc(), 0).await.unwrap();
        store.mark_sent(&o1, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        let pending = store.pending_in(&dc()).await.unwrap();
        assert_eq!(pending, [(o1.clone(), 1), (o2.clone(), 0)]);
        assert_eq!(store.pending_in(&mx()).await.unwrap(), [(o3.clone(), 0)]);
        assert_eq!(store.pending_in(&kb()).await.unwrap(), []);
        assert_eq!(store.copy_in(&o2, &dc()).await.unwrap(), None);
        assert_eq!(store.copies(&o2, &dc()).await.unwrap()[0].state, CopyState::Pending);
    }
}

store_test! {
    /// `mark_pending` never downgrades a sent row, and turns a rejected one pending again.
    async fn mark_pending_keeps_sent_rows(db) {
        let store = db.open().await;
        let origin = kb().msg("1");
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_pending(&origin, &dc(), 0).await.unwrap();
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [sent(0, "d1")]);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
        assert_eq!(store.origin_of(&dc().msg("d1")).await.unwrap(), Some(origin));

        let other = kb().msg("2");
        store.mark_rejected(&other, &dc(), 0, "too large").await.unwrap();
        store.mark_pending(&other, &dc(), 0).await.unwrap();
        let pending = CopyRow { part: 0, state: CopyState::Pending, msg: None, detail: None };
        assert_eq!(store.copies(&other, &dc()).await.unwrap(), [pending]);
        assert_eq!(store.rejected(&kb(), &dc()).await.unwrap(), []);
        store.mark_sent(&other, &dc(), 0, &MsgId::new("d2")).await.unwrap();
        assert_eq!(store.copies(&other, &dc()).await.unwrap(), [sent(0, "d2")]);
    }
}

store_test! {
    /// Rejected parts are listed per (source chat, target chat) with their reasons.
    async fn rejected_parts_are_listed_with_reasons(db) {
        let store = db.open().await;
        let (o1, o2) = (kb().msg("1"), kb().msg("2"));
        store.mark_pending(&o1, &dc(), 0).await.unwrap();
        store.mark_rejected(&o1, &dc(), 0, "file too large").await.unwrap();
        store.mark_sent(&o2, &dc(), 0, &MsgId::new("d2")).await.unwrap();
        store.mark_rejected(&o2, &dc(), 1, "reactions unsupported").await.unwrap();
        store.mark_rejected(&o1, &mx(), 0, "elsewhere").await.unwrap();
        let random = ChatRef::new(Platform::Keybase, "acme#random");
        store.mark_rejected(&random.msg("1"), &dc(), 0, "other chat").await.unwrap();

        let rejected = store.rejected(&kb(), &dc()).await.unwrap();
        let row = |origin: &MsgRef, part, reason: &str| RejectedCopy {
            origin: origin.clone(),
            to: dc(),
            part,
            reason: reason.to_owned(),
        };
        assert_eq!(rejected, [row(&o1, 0, "file too large"), row(&o2, 1, "reactions unsupported")]);
        let copies = store.copies(&o1, &dc()).await.unwrap();
        assert_eq!(copies[0].state, CopyState::Rejected);
        assert_eq!(copies[0].detail.as_deref(), Some("file too large"));
        assert_eq!(store.copy_in(&o1, &dc()).await.unwrap(), None);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
    }
}

store_test! {
    /// Whole-message counts per (source chat, target chat), as the backfill reports them.
    async fn copy_counts_count_messages(db) {
        let store = db.open().await;
        let m = |n: &str| kb().msg(n);
        for (origin, part, msg) in [("1", 0, "a"), ("1", 1, "b"), ("2", 0, "c"), ("3", 0, "d")] {
            store.mark_sent(&m(origin), &dc(), part, &MsgId::new(msg)).await.unwrap();
        }
        store.mark_pending(&m("2"), &dc(), 1).await.unwrap();
        store.mark_rejected(&m("3"), &dc(), 1, "no").await.unwrap();
        store.mark_pending(&m("4"), &dc(), 0).await.unwrap();
        store.mark_sent(&m("5"), &mx(), 0, &MsgId::new("$e")).await.unwrap();
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (1, 1));
        assert_eq!(store.copy_counts(&kb(), &mx()).await.unwrap(), (1, 0));
        assert_eq!(store.copy_counts(&dc(), &kb()).await.unwrap(), (0, 0));
    }
}

store_test! {
    /// Progress is upserted per (source, target) and listed in a stable order.
    async fn progress_is_upserted(db) {
        let store = db.open().await;
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), None);
        let first = progress(kb(), dc(), Some("c1"), 10);
        store.save_progress(&first).await.unwrap();
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), Some(first));
        let mut last = progress(kb(), dc(), None, 20);
        last.skipped = u64::from(u32::MAX) + 7;
        store.save_progress(&last).await.unwrap();
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), Some(last.clone()));
        assert_eq!(store.progress(&kb(), &mx()).await.unwrap(), None);

        let random = ChatRef::new(Platform::Keybase, "acme#random");
        let others =
            [progress(random, dc(), Some("r"), 1), progress(kb(), mx(), Some("m"), 2),
             progress(dc(), kb(), Some("d"), 3)];
        for p in &others {
            store.save_progress(p).await.unwrap();
        }
        let all = store.all_progress().await.unwrap();
        let [random_dc, kb_mx, dc_kb] = others;
        assert_eq!(all, [dc_kb, last, kb_mx, random_dc]);
    }
}

store_test! {
    /// Targets and ghosts are upserted under their full keys.
    async fn targets_and_ghosts_are_upserted(db) {
        let store = db.open().await;
        let (d, m) = (Platform::Discord, Platform::Matrix);
        assert_eq!(store.target(d, "webhook", "acme#general").await.unwrap(), None);
        store.save_target(d, "webhook", "acme#general", "w1", false).await.unwrap();
        store.save_target(d, "webhook", "acme#general", "w2", true).await.unwrap();
        store.save_target(d, "channel", "acme#general", "c1", true).await.unwrap();
        store.save_target(m, "webhook", "acme#general", "other", false).await.unwrap();
        let webhook = store.target(d, "webhook", "acme#general").await.unwrap();
        assert_eq!(webhook.as_deref(), Some("w2"));
        let channel = store.target(d, "channel", "acme#general").await.unwrap();
        assert_eq!(channel.as_deref(), Some("c1"));

        let alice = UserId::new("alice");
        assert_eq!(store.ghost(m, Platform::Keybase, &alice).await.unwrap(), None);
        store.save_ghost(m, Platform::Keybase, &alice, "@kb_alice:x", "alice").await.unwrap();
        store.save_ghost(m, Platform::Keybase, &alice, "@kb_alice2:x", "Alice").await.unwrap();
        store.save_ghost(d, Platform::Keybase, &alice, "webhook-name", "alice").await.unwrap();
        let ghost = store.ghost(m, Platform::Keybase, &alice).await.unwrap();
        assert_eq!(ghost.as_deref(), Some("@kb_alice2:x"));
        assert_eq!(store.ghost(m, Platform::Discord, &alice).await.unwrap(), None);
    }
}

store_test! {
    /// IDs holding `:`, `#`, `$`, `/` and non-ASCII come back unchanged, and refs whose
    /// joined forms would be equal stay apart.
    async fn ids_with_separators_round_trip(db) {
        let store = db.open().await;
        let team = ChatRef::new(Platform::Keybase, "acme.eng#général");
        let room = ChatRef::new(Platform::Matrix, "!AbC:matrix.example.org");
        let origin = team.msg("42");
        let event = MsgId::new("$ev:x/y+z=");
        store.mark_sent(&origin, &room, 0, &event).await.unwrap();
        assert_eq!(store.origin_of(&room.msg(event.clone())).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.copy_in(&origin, &room).await.unwrap(), Some(event.clone()));
        store.mark_pending(&origin, &room, 1).await.unwrap();
        assert_eq!(store.pending_in(&room).await.unwrap(), [(origin.clone(), 1)]);
        store.mark_rejected(&origin, &room, 1, "nope: #1").await.unwrap();
        assert_eq!(store.rejected(&team, &room).await.unwrap()[0].origin, origin);
        let p = progress(team.clone(), room.clone(), Some("team#chan:17"), 1);
        store.save_progress(&p).await.unwrap();
        assert_eq!(store.all_progress().await.unwrap(), [p]);
        let user = UserId::new("@alice:example.org");
        store.save_ghost(Platform::Discord, Platform::Matrix, &user, "g", "Alïce").await.unwrap();
        let ghost = store.ghost(Platform::Discord, Platform::Matrix, &user).await.unwrap();
        assert_eq!(ghost.as_deref(), Some("g"));

        // "a:b" + "c" and "a" + "b:c" both read "matrix:a:b:c" when joined.
        let (ab, a) = (ChatRef::new(Platform::Matrix, "a:b"), ChatRef::new(Platform::Matrix, "a"));
        store.mark_sent(&kb().msg("1"), &ab, 0, &MsgId::new("c")).await.unwrap();
        store.mark_sent(&kb().msg("2"), &a, 0, &MsgId::new("b:c")).await.unwrap();
        assert_eq!(store.origin_of(&ab.msg("c")).await.unwrap(), Some(kb().msg("1")));
        assert_eq!(store.origin_of(&a.msg("b:c")).await.unwrap(), Some(kb().msg("2")));
    }
}

store_test! {
    /// A batch of more than 10,000 rows lands in one transaction, then answers lookups.
    async fn sent_batches_are_recorded(db) {
        let store = db.open().await;
        let origin = |i: usize| kb().msg(i.to_string());
        store.mark_pending(&origin(5), &dc(), 0).await.unwrap();
        let mut rows: Vec<SentCopy> = (0..12_000)
            .map(|i| SentCopy { origin: origin(i), to: dc(), part: 0, msg: format!("d{i}").into() })
            .collect();
        rows.extend((0..500).map(|i| SentCopy {
            origin: origin(i),
            to: dc(),
            part: 1,
            msg: format!("d{i}.1").into(),
        }));
        store.record_sent_batch(&rows).await.expect("record_sent_batch");
        store.record_sent_batch(&[]).await.expect("empty batch");

        for i in [0, 1, 5, 499, 500, 999, 1_000, 1_001, 7_777, 11_999] {
            let want = MsgId::new(format!("d{i}"));
            assert_eq!(store.copy_in(&origin(i), &dc()).await.unwrap(), Some(want.clone()));
            assert_eq!(store.origin_of(&dc().msg(want)).await.unwrap(), Some(origin(i)));
        }
        assert_eq!(store.origin_of(&dc().msg("d499.1")).await.unwrap(), Some(origin(499)));
        assert_eq!(store.copies(&origin(5), &dc()).await.unwrap(), [sent(0, "d5"), sent(1, "d5.1")]);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (12_000, 0));

        // A batch that fails part-way (a target message already taken) writes nothing.
        let mut bad: Vec<SentCopy> = (20_000..21_500)
            .map(|i| SentCopy { origin: origin(i), to: dc(), part: 0, msg: format!("d{i}").into() })
            .collect();
        bad.push(SentCopy { origin: origin(30_000), to: dc(), part: 0, msg: "d7".into() });
        assert!(matches!(store.record_sent_batch(&bad).await, Err(StoreError::Query(_))));
        assert_eq!(store.copy_in(&origin(20_000), &dc()).await.unwrap(), None);
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (12_000, 0));
    }
}

/// `sqlite::memory:` is one database shared by every call, concurrent ones included.
#[tokio::test]
async fn sqlite_in_memory_is_one_database() {
    let store = MappingStore::open("sqlite::memory:").await.expect("open");
    let calls = (0..20).map(|i| {
        let store = store.clone();
        async move {
            store
                .mark_sent(
                    &kb().msg(i.to_string()),
                    &dc(),
                    0,
                    &MsgId::from(format!("d{i}")),
                )
                .await
        }
    });
    for result in futures::future::join_all(calls).await {
        result.expect("mark_sent");
    }
    assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (20, 0));
}

/// `sqlite:` with a path works like `sqlite://`; a missing directory is an `Open` error.
#[tokio::test]
async fn sqlite_url_forms() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("short.db");
    let store = MappingStore::open(&format!("sqlite:{}", file.display()))
        .await
        .expect("open");
    store.close().await;
    assert!(file.exists());
    let missing = format!("sqlite://{}/no/such/dir/x.db", dir.path().display());
    let err = MappingStore::open(&missing)
        .await
        .expect_err("missing directory");
    assert!(
        matches!(err, StoreError::Open { ref url, .. } if *url == missing),
        "{err:?}"
    );
}

/// Open errors name the URL without its password.
#[tokio::test]
async fn open_errors_hide_the_password() {
    let err = MappingStore::open("postgres://kb:hunter2@127.0.0.1:99999/kb")
        .await
        .expect_err("bad port");
    assert!(
        matches!(&err, StoreError::Open { url, .. } if url == "postgres://kb@127.0.0.1:99999/kb")
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    let err = MappingStore::open("mysql://kb:hunter2@db/kb")
        .await
        .expect_err("unsupported");
    assert!(
        matches!(&err, StoreError::Open { url, .. } if url == "mysql://kb@db/kb"),
        "{err:?}"
    );
}
