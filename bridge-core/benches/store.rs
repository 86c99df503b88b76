//! Mapping-store throughput on a fresh SQLite file: bulk inserts, then random lookups.
//!
//! `cargo bench -p bridge-core --bench store`. `KBBRIDGE_BENCH_ROWS` sets the number of rows
//! (default 1,000,000), e.g. `KBBRIDGE_BENCH_ROWS=20000` for a smoke run.
//!
//! Targets: ≥ 20,000 inserts/s, ≥ 50,000 lookups/s with several tasks (the engine runs links
//! in parallel). Every lookup's answer is checked, so a fast wrong store fails here.

use std::time::{Duration, Instant};

use bridge_core::{
    ChatRef, MappingStore, MsgId, MsgRef, Platform,
    store::{Backend, SentCopy},
};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Rows per `record_sent_batch` call.
const BATCH: usize = 5_000;
/// Random lookups per measurement, half `copy_in` from an origin, half `origin_of` a copy.
const LOOKUPS: usize = 200_000;
/// Concurrent lookup tasks.
const TASKS: usize = 4;
/// Source chats (and as many target chats) the rows are spread over.
const CHATS: usize = 10;

fn origin(i: usize) -> MsgRef {
    ChatRef::new(Platform::Keybase, format!("acme#chan{}", i % CHATS)).msg(i.to_string())
}

fn target(i: usize) -> ChatRef {
    ChatRef::new(
        Platform::Discord,
        format!("11000000000000000{:02}", i % CHATS),
    )
}

fn copy(i: usize) -> MsgId {
    MsgId::new((1_200_000_000_000_000_000_u64 + i as u64).to_string())
}

/// One lookup and the answer it must give.
#[derive(Clone)]
enum Lookup {
    CopyIn(MsgRef, ChatRef, MsgId),
    OriginOf(MsgRef, MsgRef),
}

impl Lookup {
    fn random(rng: &mut StdRng, rows: usize) -> Self {
        let i = rng.random_range(0..rows);
        if rng.random_bool(0.5) {
            Lookup::CopyIn(origin(i), target(i), copy(i))
        } else {
            Lookup::OriginOf(target(i).msg(copy(i)), origin(i))
        }
    }

    async fn run(&self, store: &MappingStore) {
        match self {
            Lookup::CopyIn(from, to, want) => {
                let got = store.copy_in(from, to).await.expect("copy_in");
                assert_eq!(got.as_ref(), Some(want), "copy_in({from}, {to})");
            }
            Lookup::OriginOf(copy, want) => {
                let got = store.origin_of(copy).await.expect("origin_of");
                assert_eq!(got.as_ref(), Some(want), "origin_of({copy})");
            }
        }
    }
}

fn per_second(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

async fn insert(store: &MappingStore, rows: usize) -> Duration {
    let mut took = Duration::ZERO;
    for start in (0..rows).step_by(BATCH) {
        let batch: Vec<SentCopy> = (start..rows.min(start + BATCH))
            .map(|i| SentCopy {
                origin: origin(i),
                to: target(i),
                part: 0,
                msg: copy(i),
            })
            .collect();
        let t = Instant::now();
        store
            .record_sent_batch(&batch)
            .await
            .expect("record_sent_batch");
        took += t.elapsed();
    }
    took
}

async fn lookups_concurrent(store: &MappingStore, lookups: &[Lookup]) -> Duration {
    let t = Instant::now();
    let tasks: Vec<_> = lookups
        .chunks(lookups.len().div_ceil(TASKS))
        .map(|chunk| {
            let (store, chunk) = (store.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for lookup in &chunk {
                    lookup.run(&store).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("lookup task");
    }
    t.elapsed()
}

async fn lookups_sequential(store: &MappingStore, lookups: &[Lookup]) -> Duration {
    let t = Instant::now();
    for lookup in lookups {
        lookup.run(store).await;
    }
    t.elapsed()
}

async fn bench(rows: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("bench.db");
    let store = MappingStore::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("open");
    assert_eq!(store.backend(), Backend::Sqlite);
    println!("store bench: fresh SQLite file, {rows} rows in batches of {BATCH}");

    let took = insert(&store, rows).await;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(file.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "inserts: {rows} rows in {:.2} s = {:.0} rows/s (target >= 20000); db+wal {} MiB",
        took.as_secs_f64(),
        per_second(rows, took),
        size >> 20
    );

    let mut rng = StdRng::seed_from_u64(7);
    let lookups: Vec<Lookup> = (0..LOOKUPS)
        .map(|_| Lookup::random(&mut rng, rows))
        .collect();
    let took = lookups_concurrent(&store, &lookups).await;
    println!(
        "lookups, {TASKS} tasks: {LOOKUPS} in {:.2} s = {:.0} lookups/s (target >= 50000)",
        took.as_secs_f64(),
        per_second(LOOKUPS, took)
    );
    let took = lookups_sequential(&store, &lookups).await;
    println!(
        "lookups, 1 task:  {LOOKUPS} in {:.2} s = {:.0} lookups/s",
        took.as_secs_f64(),
        per_second(LOOKUPS, took)
    );
    store.close().await;
}

fn main() {
    let rows = match std::env::var("KBBRIDGE_BENCH_ROWS") {
        Ok(v) => v
            .parse()
            .expect("KBBRIDGE_BENCH_ROWS must be a number of rows"),
        Err(_) => 1_000_000,
    };
    assert!(rows > 0, "KBBRIDGE_BENCH_ROWS must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench(rows));
}
