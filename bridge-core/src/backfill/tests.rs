//! Engine tests with in-memory fakes and a real SQLite store in a temp folder.

mod degraded;
mod leases;

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::{
    adapter::AdapterError,
    ids::{ChatRef, Platform},
    model::Message,
    retry::RetryPolicy,
    store::MappingStore,
    testing::{FakeHistory, FakeSink, Script, text_message},
};

async fn temp_store() -> (TempDir, MappingStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("map.db").display());
    (dir, MappingStore::open(&url).await.expect("open store"))
}

fn keybase(chat: &str) -> ChatRef {
    ChatRef::new(Platform::Keybase, chat)
}

/// `acme#general` with `n` messages, as a history source.
fn one_chat(n: u64) -> (ChatRef, Arc<FakeHistory>) {
    let from = keybase("acme#general");
    let msgs = messages(&from, n);
    (
        from.clone(),
        Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat, msgs)),
    )
}

fn messages(chat: &ChatRef, n: u64) -> Vec<Message> {
    (1..=n)
        .map(|i| text_message(chat, i, &format!("message {i}")))
        .collect()
}

fn job(
    link: &str,
    source: Arc<FakeHistory>,
    from: ChatRef,
    sink: Arc<FakeSink>,
    to: &str,
) -> BackfillJob {
    BackfillJob {
        link: link.into(),
        source,
        from,
        sink,
        to: Target::Named(ChatRef::new(Platform::Matrix, to)),
    }
}

fn options() -> BackfillOptions {
    BackfillOptions {
        page_size: 7,
        retry: RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        },
        ..BackfillOptions::default()
    }
}

/// The origin message IDs the sink received for `to`, in arrival order.
fn arrived(sink: &FakeSink, to: &str) -> Vec<String> {
    sink.delivered()
        .into_iter()
        .filter(|d| d.to.as_str() == to)
        .map(|d| format!("{}/{}", d.origin.msg, d.part))
        .collect()
}

fn expected(n: u64, parts: impl Fn(u64) -> u32) -> Vec<String> {
    (1..=n)
        .flat_map(|i| (0..parts(i)).map(move |p| format!("{i}/{p}")))
        .collect()
}

#[tokio::test]
async fn copies_every_message_in_order_and_a_second_run_sends_nothing() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(30);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let engine = Backfill::new(store.clone(), options());
    let j = job("general", source, from.clone(), sink.clone(), "!room:x");

    let first = engine
        .run_job(&j, &CancellationToken::new())
        .await
        .expect("first run");
    assert_eq!(arrived(&sink, "!room:x"), expected(30, |_| 1));
    assert_eq!((first.copied, first.skipped, first.parts_sent), (30, 0, 30));

    let second = engine
        .run_job(&j, &CancellationToken::new())
        .await
        .expect("second run");
    assert_eq!(sink.delivered().len(), 30, "a re-run must send nothing");
    assert_eq!((second.copied, second.parts_sent), (30, 0));
    assert!(
        second.skipped > 0,
        "the re-run re-reads at most the last page"
    );
    assert!(
        second.skipped <= 7,
        "the re-run must resume from the saved cursor, not the start"
    );

    let progress = store
        .progress(&from, &j.to.shown())
        .await
        .unwrap()
        .expect("progress saved");
    assert!(progress.done);
    assert_eq!(progress.copied, 30);
}

#[tokio::test]
async fn replies_point_at_the_parent_copy() {
    let (_dir, store) = temp_store().await;
    let from = keybase("acme#general");
    let mut msgs = messages(&from, 3);
    msgs[2].reply_to = Some("1".into());
    let source = Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), msgs));
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    Backfill::new(store, options())
        .run_job(
            &job("g", source, from, sink.clone(), "!r:x"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let d = sink.delivered();
    assert_eq!(d[2].reply_to.as_ref(), Some(&d[0].id));
    assert_eq!(d[1].reply_to, None);
}

#[tokio::test]
async fn links_run_in_parallel_and_each_keeps_its_order() {
    let (_dir, store) = temp_store().await;
    let mut source = FakeHistory::new(Platform::Keybase);
    let chats: Vec<ChatRef> = (0..4).map(|i| keybase(&format!("acme#c{i}"))).collect();
    for c in &chats {
        source = source.with_chat(c.chat.clone(), messages(c, 12));
    }
    let source = Arc::new(source);
    let sink = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(15)));
    let jobs = chats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            job(
                &format!("l{i}"),
                source.clone(),
                c.clone(),
                sink.clone(),
                &format!("!r{i}:x"),
            )
        })
        .collect();
    let engine = Backfill::new(
        store,
        BackfillOptions {
            parallel_links: 4,
            ..options()
        },
    );
    let outcomes = engine.run(jobs, &CancellationToken::new()).await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    for i in 0..4 {
        assert_eq!(
            arrived(&sink, &format!("!r{i}:x")),
            expected(12, |_| 1),
            "order in chat {i}"
        );
    }
    assert_eq!(
        sink.max_in_flight(),
        4,
        "four links should have been sending at once"
    );

    let (_dir2, store2) = temp_store().await;
    let serial_sink =
        Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(5)));
    let jobs = chats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            job(
                &format!("l{i}"),
                source.clone(),
                c.clone(),
                serial_sink.clone(),
                &format!("!r{i}:x"),
            )
        })
        .collect();
    Backfill::new(
        store2,
        BackfillOptions {
            parallel_links: 1,
            ..options()
        },
    )
    .run(jobs, &CancellationToken::new())
    .await;
    assert_eq!(
        serial_sink.max_in_flight(),
        1,
        "parallel_links = 1 must not overlap sends"
    );
}

/// Polls the inner future at most `budget` times, then drops it: a crash at a random await.
struct CrashAfter<F> {
    inner: Pin<Box<F>>,
    budget: usize,
}

impl<F: Future> Future for CrashAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.budget == 0 {
            return Poll::Ready(None);
        }
        self.budget -= 1;
        self.inner.as_mut().poll(cx).map(Some)
    }
}

async fn crash_and_resume(can_find: bool, seed: u64) -> (Arc<FakeSink>, Summary, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("map.db").display());
    let (from, source) = one_chat(120);
    // Every third message becomes three target parts (a long text split, say).
    let mut sink = FakeSink::new(Platform::Matrix).with_parts(|m| {
        if m.origin.msg.as_str().parse::<u64>().unwrap_or(0) % 3 == 0 {
            3
        } else {
            1
        }
    });
    if !can_find {
        sink = sink.without_find();
    }
    let sink = Arc::new(sink);
    let j = job("g", source, from, sink.clone(), "!r:x");
    let mut crashes = 0;
    while crashes < 12 {
        // A fresh store handle each time: the process restarted.
        let store = MappingStore::open(&url).await.unwrap();
        let engine = Backfill::new(store.clone(), options());
        let budget = rng.random_range(1..250);
        let shutdown = CancellationToken::new();
        let run = CrashAfter {
            inner: Box::pin(engine.run_job(&j, &shutdown)),
            budget,
        };
        let out = run.await;
        store.close().await;
        match out {
            None => crashes += 1,
            Some(Ok(_)) => break,
            Some(Err(e)) => panic!("run failed: {e}"),
        }
    }
    assert!(
        crashes >= 5,
        "the budget should have interrupted several runs (seed {seed})"
    );
    let store = MappingStore::open(&url).await.unwrap();
    let summary = Backfill::new(store, options())
        .run_job(&j, &CancellationToken::new())
        .await
        .expect("final run");
    (sink, summary, crashes)
}

#[tokio::test]
async fn dropped_at_random_points_then_resumed_delivers_each_part_exactly_once() {
    let mut reconciled = 0;
    for seed in [1, 2, 3, 4, 5] {
        let (sink, summary, _) = crash_and_resume(true, seed).await;
        reconciled += sink.found_count();
        let want = expected(120, |i| if i % 3 == 0 { 3 } else { 1 });
        assert_eq!(
            arrived(&sink, "!r:x"),
            want,
            "seed {seed}: every part once, in order"
        );
        assert_eq!(summary.copied, 120);
        assert_eq!(summary.resent_unconfirmed, 0);
    }
    // Some crashes must have landed between "delivered" and "recorded", or the test proved
    // nothing about reconciliation.
    assert!(
        reconciled > 0,
        "no crash hit the window between delivery and record"
    );
}

#[tokio::test]
async fn without_read_back_a_crashed_send_is_resent_and_counted() {
    // Without find_sent the engine cannot know; it must never lose a part, and must say how
    // many it resent blind.
    let (sink, summary, crashes) = crash_and_resume(false, 9).await;
    let got = arrived(&sink, "!r:x");
    let want = expected(120, |i| if i % 3 == 0 { 3 } else { 1 });
    for w in &want {
        assert!(got.contains(w), "part {w} lost");
    }
    // One part is in flight at a time, so each crash can duplicate at most one part.
    assert!(
        got.len() - want.len() <= crashes,
        "{} duplicates after {crashes} crashes",
        got.len() - want.len()
    );
    assert_eq!(summary.copied, 120);
}

#[tokio::test]
async fn a_rejected_message_is_recorded_reported_and_not_retried() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(10);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    sink.script(
        "4",
        0,
        Script::Reject("file too large (60 MB > 50 MB)".into()),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = Backfill::new(store.clone(), options()).with_progress(tx);
    let j = job("g", source, from.clone(), sink.clone(), "!r:x");
    let summary = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!((summary.copied, summary.rejected), (9, 1));
    assert_eq!(sink.delivered().len(), 9);

    let rejected = store.rejected(&from, &j.to.shown()).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].origin.msg.as_str(), "4");
    assert!(rejected[0].reason.contains("too large"));

    let mut reported = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let ProgressKind::Message {
            origin,
            outcome: MessageOutcome::Rejected(r),
        } = ev.kind
        {
            reported.push((origin.msg.to_string(), r));
        }
    }
    assert_eq!(
        reported,
        vec![(
            "4".to_string(),
            "file too large (60 MB > 50 MB)".to_string()
        )]
    );

    let again = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!(
        sink.delivered().len(),
        9,
        "a rejected message is not retried on re-runs"
    );
    assert_eq!(again.rejected, 1);
}

// The engine tests below run on the real clock: a paused tokio clock auto-advances whenever
// the runtime waits on SQLite's worker thread, which fires sqlx's pool timeouts. The exact
// timing logic is tested on a paused clock where it lives (`retry.rs`, `pacer.rs`); here the
// lower bounds prove the engine waits, and the reported delays prove it waits no more.

#[tokio::test]
async fn retry_after_is_honoured() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(5);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let retry_after = Duration::from_millis(700);
    sink.script(
        "3",
        0,
        Script::FailFirst(vec![AdapterError::RateLimited { retry_after }]),
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let summary = Backfill::new(store, options())
        .with_progress(tx)
        .run_job(
            &job("g", source, from, sink.clone(), "!r:x"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let d = sink.delivered();
    assert_eq!(d.len(), 5, "retried once, delivered once");
    let gap = d[2].at - d[1].at;
    assert!(gap >= retry_after, "waited only {gap:?}");
    assert_eq!(summary.retries, 1);
    let mut delays = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let ProgressKind::Retrying { delay, .. } = ev.kind {
            delays.push(delay);
        }
    }
    // Exactly the target's figure: no exponential backoff or jitter added to it.
    assert_eq!(delays, vec![retry_after]);
}

#[tokio::test]
async fn the_pacer_holds_sends_to_the_configured_rate() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(21);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let mut opts = options();
    opts.rates.insert(
        Platform::Matrix,
        Rate {
            per_second: 40.0,
            burst: 1,
        },
    );
    Backfill::new(store, opts)
        .run_job(
            &job("g", source, from, sink.clone(), "!r:x"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let d = sink.delivered();
    // 20 intervals at 40/s: at least half a second (the pacer's exact timing is tested on a
    // paused clock in pacer.rs).
    let span = d[20].at - d[0].at;
    assert!(span >= Duration::from_millis(495), "{span:?}");
}

#[tokio::test]
async fn exhausted_retries_stop_the_link_and_a_rerun_completes_it() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(20);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let errors = (0..4)
        .map(|_| AdapterError::transient("502 bad gateway"))
        .collect();
    sink.script("12", 0, Script::FailFirst(errors));
    let engine = Backfill::new(store.clone(), options());
    let j = job("g", source, from.clone(), sink.clone(), "!r:x");
    let err = engine
        .run_job(&j, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BackfillError::Sink {
                error: AdapterError::Transient(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(sink.delivered().len(), 11);
    assert!(err.advice().contains("resumes"));

    let summary = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!(arrived(&sink, "!r:x"), expected(20, |_| 1));
    assert_eq!(summary.copied, 20);
}

#[tokio::test]
async fn a_transient_source_error_is_retried() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(3);
    source.fail_next(AdapterError::transient("keybase service restarting"));
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let summary = Backfill::new(store, options())
        .run_job(
            &job("g", source, from, sink.clone(), "!r:x"),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!((summary.copied, summary.retries), (3, 1));
}

#[tokio::test]
async fn cancelling_stops_the_run_and_keeps_what_was_sent() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(50);
    let sink = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(2)));
    let engine = Backfill::new(store.clone(), options());
    let j = job("g", source, from, sink.clone(), "!r:x");
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    let watched = sink.clone();
    // Stop once a few messages went, however long setup took on a busy machine.
    tokio::spawn(async move {
        while watched.delivered().len() < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stopper.cancel();
    });
    let err = engine.run_job(&j, &shutdown).await.unwrap_err();
    assert!(matches!(err, BackfillError::Cancelled));
    let sent = sink.delivered().len();
    assert!(sent > 0 && sent < 50, "{sent}");
    let summary = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!(summary.copied, 50);
    assert_eq!(sink.delivered().len(), 50);
}
