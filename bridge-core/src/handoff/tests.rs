//! Two instances on one database relaying through the hand-off: one is killed (its tasks
//! aborted, its leases left to expire) mid-traffic, the other takes its link over; every event
//! is applied exactly once. On the test PostgreSQL (`KBBRIDGE_TEST_POSTGRES_URL`, a schema of
//! its own), or on a shared SQLite file when there is none.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use sqlx::{Connection, Executor, postgres::PgConnection};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::{
    ChatRef, MappingStore, Platform, Sink,
    relay::{Queued, Relay, RelayLink, RelayOptions, Router},
    testing::{FakeSink, text_message},
};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn kb() -> ChatRef {
    ChatRef::new(Platform::Keybase, "acme#general")
}
fn mx() -> ChatRef {
    ChatRef::new(Platform::Matrix, "!r:x")
}

/// A database two stores can share, and how to drop it afterwards.
struct SharedDb {
    url: String,
    schema: Option<(PgConnection, String)>,
    _dir: tempfile::TempDir,
}

async fn shared_db() -> SharedDb {
    let dir = tempfile::tempdir().unwrap();
    let base = std::env::var("KBBRIDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let connected =
        tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&base)).await;
    match connected {
        Ok(Ok(mut admin)) => {
            let schema = format!("kbh_{:016x}", rand::random::<u64>());
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            SharedDb {
                url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                schema: Some((admin, schema)),
                _dir: dir,
            }
        }
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL not reachable at {base}"
            );
            eprintln!("SKIPPED PostgreSQL (not reachable): two stores on one SQLite file");
            SharedDb {
                url: format!("sqlite://{}", dir.path().join("shared.db").display()),
                schema: None,
                _dir: dir,
            }
        }
    }
}

/// One instance: its store and its relay.
struct Instance {
    store: MappingStore,
    relay: Arc<Relay>,
}

/// An instance writing to `matrix`, the one Matrix both instances write to.
async fn instance(url: &str, holder: &str, matrix: &Arc<FakeSink>) -> Instance {
    let store = MappingStore::open(url).await.unwrap();
    let mut sinks: BTreeMap<Platform, Arc<dyn Sink>> = BTreeMap::new();
    sinks.insert(Platform::Matrix, matrix.clone());
    sinks.insert(
        Platform::Keybase,
        Arc::new(FakeSink::new(Platform::Keybase)),
    );
    let router = Router::new(&[RelayLink {
        name: "general".into(),
        chats: vec![kb(), mx()],
    }])
    .unwrap();
    let options = RelayOptions {
        lease_ttl: Duration::from_secs(1),
        ..RelayOptions::default()
    };
    let relay = Arc::new(Relay::new(store.clone(), sinks, router, options).with_holder(holder));
    Instance { store, relay }
}

fn holding(instance: &Instance, wake: &Wake) -> tokio::task::JoinHandle<Result<(), RelayError>> {
    let options = HoldOptions {
        poll: Duration::from_millis(50),
        rescan: Duration::from_millis(100),
        ..HoldOptions::default()
    };
    tokio::spawn(hold_links(
        Arc::clone(&instance.relay),
        wake.clone(),
        options,
        CancellationToken::new(),
    ))
}

use crate::relay::RelayError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_s_link_is_taken_over_and_each_event_applied_once() {
    let db = shared_db().await;
    let matrix = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(5)));
    let a = instance(&db.url, "instance-a", &matrix).await;
    let b = instance(&db.url, "instance-b", &matrix).await;
    let (wake_a, wake_b) = (Wake::default(), Wake::default());
    let mut tasks = vec![holding(&a, &wake_a), holding(&b, &wake_b)];
    // The ingress (here: in instance b) hands every event over through its writer.
    let (tx, rx) = mpsc::channel(16);
    let writer = tokio::spawn(write(b.store.clone(), rx, wake_b.clone()));

    const TOTAL: u64 = 120;
    let mut killed = None;
    for n in 1..=TOTAL {
        let incoming = crate::adapter::Incoming {
            event: crate::model::Event::Message(text_message(&kb(), n, &format!("m{n}"))),
            position: Some(n.to_string().into()),
            own: false,
        };
        let (queued, stored) = Queued::acked(incoming);
        tx.send(queued).await.unwrap();
        assert_eq!(stored.await.unwrap(), crate::relay::Applied::HandedOff);
        if n == TOTAL / 3 {
            // Kill the holder mid-traffic: its tasks end where they are, its lease is left.
            let holder = a
                .store
                .lease_info("relay:general")
                .await
                .unwrap()
                .unwrap()
                .holder;
            let i = usize::from(holder == "instance-b");
            tasks[i].abort();
            killed = Some((i, Instant::now()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (killed, at) = killed.unwrap();
    drop(tx);
    writer.await.unwrap().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let delivered = matrix.delivered().len();
        let (waiting, _) = a.store.relay_event_counts().await.unwrap();
        if delivered as u64 >= TOTAL && waiting == 0 {
            break;
        }
        if Instant::now() > deadline {
            let leases = a.store.leases().await.unwrap();
            let ended = tasks[1 - killed].is_finished();
            let result = if ended {
                Some(tasks.remove(1 - killed).await)
            } else {
                None
            };
            panic!(
                "{delivered} of {TOTAL} delivered, {waiting} waiting; survivor ended: {result:?}; {leases:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The survivor took over, within about the lease time.
    let lease = a.store.lease_info("relay:general").await.unwrap().unwrap();
    let survivor = ["instance-a", "instance-b"][1 - killed];
    assert_eq!(lease.holder, survivor);
    let delivered = matrix.delivered();
    let taken = delivered
        .iter()
        .map(|d| d.at)
        .filter(|t| *t > at)
        .min()
        .unwrap();
    let takeover = taken - at;
    eprintln!("link taken over {takeover:?} after the kill");
    assert!(takeover < Duration::from_secs(3), "{takeover:?}");
    // Exactly once, and in order: one chat's events are relayed in order by whoever holds it.
    let origins: Vec<u64> = delivered
        .iter()
        .map(|d| d.origin.msg.as_str().parse().unwrap())
        .collect();
    assert_eq!(
        origins,
        (1..=TOTAL).collect::<Vec<_>>(),
        "each message once, in order"
    );
    assert!(
        delivered.iter().filter(|d| d.at < at).count() > 1,
        "the killed instance relayed before it died"
    );

    for task in &tasks {
        task.abort();
    }
    if let Some((mut admin, schema)) = db.schema {
        a.store.close().await;
        b.store.close().await;
        admin
            .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .unwrap();
    }
}

/// Runs `sql` on `db` over a connection of its own.
async fn execute(db: &SharedDb, sql: &str) {
    match &db.schema {
        Some(_) => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            conn.execute(sql).await.unwrap();
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            conn.execute(sql).await.unwrap();
        }
    }
}

/// Hands `n` messages of `acme#general` from `from` on over `tx`, each stored before the next.
async fn hand_over(tx: &mpsc::Sender<Queued>, from: u64, n: u64) {
    for id in from..from + n {
        let incoming = crate::adapter::Incoming {
            event: crate::model::Event::Message(text_message(&kb(), id, &format!("m{id}"))),
            position: Some(id.to_string().into()),
            own: false,
        };
        let (queued, stored) = Queued::acked(incoming);
        tx.send(queued).await.unwrap();
        stored.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_whose_lease_is_taken_over_stops_at_once_and_resumes_when_it_is_free() {
    let db = shared_db().await;
    let matrix = Arc::new(FakeSink::new(Platform::Matrix));
    let a = instance(&db.url, "instance-a", &matrix).await;
    let wake = Wake::default();
    let holding = holding(&a, &wake);
    let (tx, rx) = mpsc::channel(16);
    let writer = tokio::spawn(write(a.store.clone(), rx, wake.clone()));
    let delivered = |n: usize| {
        let matrix = Arc::clone(&matrix);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matrix.delivered().len() < n {
                assert!(
                    Instant::now() < deadline,
                    "{} of {n}",
                    matrix.delivered().len()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    hand_over(&tx, 1, 5).await;
    delivered(5).await;

    // The link's lease expires behind its holder's back and another process takes it.
    execute(
        &db,
        "UPDATE lease SET expires_at = 0 WHERE name = 'relay:general'",
    )
    .await;
    let thief = a
        .store
        .acquire_lease("relay:general", "thief", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("expired");
    // Within a renewal period (a third of the lease) the holder has noticed and stopped.
    tokio::time::sleep(Duration::from_millis(700)).await;
    hand_over(&tx, 6, 5).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        matrix.delivered().len(),
        5,
        "nothing relayed without the lease"
    );
    assert_eq!(
        a.store.relay_event_counts().await.unwrap().0,
        5,
        "they wait"
    );

    a.store.release_lease(&thief).await.unwrap();
    delivered(10).await;
    let origins: Vec<String> = matrix
        .delivered()
        .iter()
        .map(|d| d.origin.msg.to_string())
        .collect();
    let expected: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(origins, expected, "each once, in order");
    assert!(!holding.is_finished());
    holding.abort();
    drop(tx);
    writer.await.unwrap().unwrap();
    if let Some((mut admin, schema)) = db.schema {
        a.store.close().await;
        admin
            .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .unwrap();
    }
}
