//! kbbridge's backfill vs. a minimal client doing only the bare PUTs, into the same Synapse in
//! the same run, with the same concurrency: `cargo bench -p adapter-matrix --bench ingest`.
//!
//! (a) kbbridge: the backfill engine with `MatrixSink` and a SQLite mapping store, one job per
//!     room, `parallel_links` = rooms, unpaced (as with a high `[backfill.rate.matrix]`), from an
//!     in-memory history. Everything a real run does is timed: ghost registration and joins, the
//!     store's pending/sent rows, the cursor saves.
//! (b) bare: one task per room, each `PUT /rooms/{room}/send/m.room.message/{txn}?user_id=&ts=`
//!     in sequence with the same reqwest client settings, of the very content kbbridge sends
//!     (its `m.mentions: {}` alone costs Synapse about 2 ms of CPU per event); the ghost is
//!     registered and joined before the clock starts.
//!
//! Both send the same messages (`KBBRIDGE_BENCH_MESSAGES`, default 2000, over
//! `KBBRIDGE_BENCH_ROOMS` rooms, default 4) into fresh private rooms. The pair runs
//! `KBBRIDGE_BENCH_ROUNDS` times (default 2), alternating the order (a b, then b a…), so
//! Synapse's slow drift as its database grows favours neither; the rates are over all rounds.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use adapter_matrix::{
    MatrixSink,
    convert::{self, Style},
    testing::{Synapse, segment, synapse, unique_prefix},
};
use bridge_core::{
    ChatInfo, ChatKind, ChatRef, MappingStore, Message, Platform, Sink,
    backfill::{Backfill, BackfillJob, BackfillOptions, Target},
    testing::{FakeHistory, text_message},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The messages of room `r`: `per_room` texts of about 60 characters.
fn messages(chat: &ChatRef, per_room: usize) -> Vec<Message> {
    (1..=per_room as u64)
        .map(|i| {
            text_message(
                chat,
                i,
                &format!("benchmark message {i:05} in {}, some words", chat.chat),
            )
        })
        .collect()
}

async fn kbbridge(s: &Synapse, rooms: usize, per_room: usize) -> Result<Duration, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = MappingStore::open(&url).await.map_err(|e| e.to_string())?;
    let sink = Arc::new(
        MatrixSink::new(&s.config(&unique_prefix()), store.clone()).map_err(|e| e.to_string())?,
    );
    let mut history = FakeHistory::new(Platform::Keybase);
    let mut jobs = Vec::new();
    for r in 0..rooms {
        let from = ChatRef::new(Platform::Keybase, format!("bench#room{r}"));
        history = history.with_chat(from.chat.clone(), messages(&from, per_room));
        let info = ChatInfo {
            chat: from.clone(),
            name: format!("room{r}"),
            topic: None,
            path: vec!["bench".to_owned()],
            kind: ChatKind::Channel,
        };
        let room = sink
            .resolve_chat(&info, None)
            .await
            .map_err(|e| e.to_string())?;
        jobs.push((from, ChatRef::new(Platform::Matrix, room)));
    }
    let history = Arc::new(history);
    let jobs: Vec<BackfillJob> = jobs
        .into_iter()
        .map(|(from, to)| BackfillJob {
            link: from.chat.as_str().into(),
            source: history.clone(),
            from,
            sink: sink.clone(),
            to: Target::Named(to),
        })
        .collect();
    let options = BackfillOptions {
        parallel_links: rooms,
        ..BackfillOptions::default()
    };
    let engine = Backfill::new(store.clone(), options);
    let start = Instant::now();
    let outcomes = engine.run(jobs, &CancellationToken::new()).await;
    let elapsed = start.elapsed();
    for o in outcomes {
        let summary = o.result.map_err(|e| e.to_string())?;
        if summary.parts_sent != per_room as u64 || summary.rejected != 0 {
            return Err(format!("{}: {summary:?}", o.link));
        }
    }
    store.close().await;
    Ok(elapsed)
}

/// The bare client: plain reqwest, the appservice token, `user_id` and `ts`.
struct Bare {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Bare {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() && !String::from_utf8_lossy(&bytes).contains("M_USER_IN_USE") {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

async fn bare(s: &Synapse, rooms: usize, per_room: usize) -> Result<Duration, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let client = Arc::new(Bare {
        http,
        base: s.url.as_str().trim_end_matches('/').to_owned(),
        token: s.as_token.clone(),
    });
    let local = format!("{}alice", unique_prefix());
    let ghost = format!("@{local}:{}", s.server_name);
    let register =
        json!({"type": "m.login.application_service", "username": local, "inhibit_login": true});
    client
        .call(
            reqwest::Method::POST,
            "/_matrix/client/v3/register",
            &register,
        )
        .await?;
    let mut targets = Vec::new();
    for r in 0..rooms {
        // Private like kbbridge's rooms, the ghost invited so it may join.
        let create =
            json!({"preset": "private_chat", "name": format!("bare {r}"), "invite": [ghost]});
        let created = client
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                &create,
            )
            .await?;
        let room = created["room_id"].as_str().ok_or("no room_id")?.to_owned();
        let join = format!(
            "/_matrix/client/v3/rooms/{}/join?user_id={}",
            segment(&room),
            segment(&ghost)
        );
        client
            .call(reqwest::Method::POST, &join, &json!({}))
            .await?;
        let chat = ChatRef::new(
            Platform::Keybase,
            format!("bare#room{r}-{}", unique_prefix()),
        );
        targets.push((room, messages(&chat, per_room)));
    }
    let start = Instant::now();
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|(room, msgs)| {
            let (client, ghost) = (client.clone(), ghost.clone());
            tokio::spawn(async move {
                for m in msgs {
                    let path = format!(
                        "/_matrix/client/v3/rooms/{}/send/m.room.message/bare.{}.{}?user_id={}&ts={}",
                        segment(&room),
                        segment(m.origin.chat.as_str()),
                        m.origin.msg,
                        segment(&ghost),
                        m.sent_at.timestamp_millis()
                    );
                    // The very event content kbbridge sends for this message.
                    let no_pills = |_: &str| None;
                    let style = Style { msgtype: "m.text", reply_to: None, mention: &no_pills };
                    let body = convert::body(&m, 0, None, style);
                    client.call(reqwest::Method::PUT, &path, &body).await?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The machine's 1-minute load average, to show what else ran (the bench shares 2 cores).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Runs one side once; exits the bench on failure.
async fn one(which: &str, s: &Synapse, rooms: usize, per_room: usize) -> Duration {
    let took = match which {
        "kbbridge" => kbbridge(s, rooms, per_room).await,
        _ => bare(s, rooms, per_room).await,
    };
    took.unwrap_or_else(|e| {
        eprintln!("ingest: {which} failed: {e}");
        std::process::exit(1);
    })
}

#[tokio::main]
async fn main() {
    let total = env_usize("KBBRIDGE_BENCH_MESSAGES", 2000);
    let rounds = env_usize("KBBRIDGE_BENCH_ROUNDS", 2).max(1);
    let rooms = env_usize("KBBRIDGE_BENCH_ROOMS", 4).max(1);
    let per_room = total / rooms;
    let n = per_room * rooms;
    let s = synapse();
    println!(
        "ingest: {n} messages into {rooms} rooms ({rooms} in flight) of Synapse at {}, {rounds} \
         round(s) each, alternating the order (a b, b a, …)",
        s.url
    );
    let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let order = if round % 2 == 1 {
            ["kbbridge", "bare"]
        } else {
            ["bare", "kbbridge"]
        };
        let mut pair = [Duration::ZERO; 2];
        for which in order {
            let before = load();
            let took = one(which, s, rooms, per_room).await;
            let side = usize::from(which == "bare");
            pair[side] = took;
            if side == 0 {
                a += took;
            } else {
                b += took;
            }
            println!(
                "round {round}  {which:<8}  {n} msgs in {:>6.2} s = {:>6.1} msg/s   (load {before} → {})",
                took.as_secs_f64(),
                rate(n, took),
                load()
            );
        }
        let ratio = rate(n, pair[0]) / rate(n, pair[1]);
        println!("round {round}  ratio {ratio:.3}");
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    let median = if ratios.len() % 2 == 1 {
        ratios[mid]
    } else {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    };
    let (ra, rb) = (rate(rounds * n, a), rate(rounds * n, b));
    println!(
        "kbbridge backfill {ra:.1} msg/s, bare PUTs {rb:.1} msg/s, ratio {:.3}; median of the \
         round ratios {median:.3} (target >= 0.9)",
        ra / rb
    );
}
