//! Opening a store: the SQLite file and its WAL mode, reopening, URL forms, errors.

use super::*;

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
            let expected = [
                "_sqlx_migrations",
                "as_txn",
                "backfill_progress",
                "copy_text",
                "ghost",
                "inbox",
                "lease",
                "live_position",
                "message_copy",
                "op_copy",
                "reaction_copy",
                "reaction_source",
                "relay_event",
                "target",
                "tombstone",
            ];
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

store_test! {
    /// Eight stores opened at once on a fresh database all open, and the schema is made once.
    async fn concurrent_opens_of_a_fresh_database_all_succeed(db) {
        let opens = (0..8).map(|_| MappingStore::open(&db.url));
        let stores: Vec<MappingStore> = futures::future::join_all(opens)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("a concurrent open failed: {e}")))
            .collect();
        for (i, store) in stores.iter().enumerate() {
            store
                .mark_sent(&kb().msg(i.to_string()), &dc(), 0, &MsgId::from(format!("d{i}")))
                .await
                .expect("mark_sent");
        }
        assert_eq!(stores[0].copy_counts(&kb(), &dc()).await.unwrap(), (8, 0));
        let count = "SELECT COUNT(*) FROM _sqlx_migrations";
        let migrations: i64 = match &db.file {
            Some(file) => {
                let options = SqliteConnectOptions::new().filename(file);
                let mut conn = SqliteConnection::connect_with(&options).await.expect("connect");
                sqlx::query_scalar(count).fetch_one(&mut conn).await.expect("count")
            }
            None => {
                let mut conn = connect_pg(&db.url).await.expect("connect");
                sqlx::query_scalar(count).fetch_one(&mut conn).await.expect("count")
            }
        };
        // Each of the six migrations (init, lease, inbox, relay, edits and reaction ids,
        // hand-off) applied exactly once.
        assert_eq!(migrations, 6);
        for store in stores {
            store.close().await;
        }
    }
}

/// Two processes opening a fresh SQLite file at the same moment used to collide on its
/// migration. Many rounds of eight openers (each with its own connections, as processes have)
/// on a fresh file: every open succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_fresh_file_survives_racing_openers_many_times() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for round in 0..25 {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("r{round}.db")).display()
        );
        let opens = (0..8).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { MappingStore::open(&url).await })
        });
        for (i, joined) in futures::future::join_all(opens)
            .await
            .into_iter()
            .enumerate()
        {
            match joined.expect("task") {
                Ok(store) => store.close().await,
                Err(e) => panic!("round {round}, opener {i}: {e}"),
            }
        }
    }
}

/// The database file is created 0600 before SQLite opens it, and SQLite gives the WAL and
/// shared-memory files the same mode (they hold message IDs and pending sends too).
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("kbbridge.db");
    let store = MappingStore::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("open");
    store
        .mark_sent(&kb().msg("1"), &dc(), 0, &MsgId::new("d1"))
        .await
        .expect("mark_sent");
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", file.display()));
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{} while the store is open: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        seen += 1;
    }
    assert_eq!(seen, 3);
    store.close().await;
}

/// A PostgreSQL server that refuses connections is reported at once with the real cause,
/// printed once, instead of "pool timed out" after 30 s.
#[tokio::test]
async fn refused_postgres_reports_the_cause_within_the_timeout() {
    let started = std::time::Instant::now();
    let err = MappingStore::open("postgres://postgres@127.0.0.1:1/test")
        .await
        .expect_err("nothing listens on port 1");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    // As the operator sees it: the message, then each cause once.
    let text = bridge_core::Report::new(&err).to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        text.contains("postgres://postgres@127.0.0.1:1/test"),
        "{text}"
    );
    assert_eq!(text.matches("refused").count(), 1, "{text}");
    assert!(!text.contains("timed out"), "{text}");
}

/// A server that accepts the TCP connection and never answers is given up on after
/// `CONNECT_TIMEOUT`, with that said.
#[tokio::test]
async fn silent_postgres_times_out_with_a_clear_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let started = std::time::Instant::now();
    let err = MappingStore::open(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .await
        .expect_err("a server that never answers");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= bridge_core::store::CONNECT_TIMEOUT
            && elapsed < bridge_core::store::CONNECT_TIMEOUT + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    let text = bridge_core::Report::new(&err).to_string();
    assert!(text.contains("did not answer within 5 s"), "{text}");
    drop(listener);
}
