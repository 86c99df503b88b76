//! One writer per link and setup inside the job: leases held, waited for, taken over and
//! lost; setup retried, failing alone, one at a time across processes.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{arrived, expected, job, keybase, messages, one_chat, options, temp_store};
use crate::{
    adapter::AdapterError,
    backfill::{Backfill, BackfillError, BackfillJob, BackfillOptions, ProgressKind, Target},
    ids::{ChatRef, Platform},
    store::StoreError,
    testing::{FakeHistory, FakeSink},
};

fn auto_job(
    link: &str,
    source: Arc<FakeHistory>,
    from: ChatRef,
    sink: Arc<FakeSink>,
) -> BackfillJob {
    BackfillJob {
        link: link.into(),
        source,
        from,
        sink,
        to: Target::Auto(Platform::Matrix),
    }
}

fn leased(ttl_ms: u64) -> BackfillOptions {
    BackfillOptions {
        lease_ttl: Duration::from_millis(ttl_ms),
        ..options()
    }
}

#[tokio::test]
async fn two_processes_on_one_store_send_each_message_once() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(40);
    // One platform, two kbbridge processes writing to it (each its own engine and holder).
    let sink = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(2)));
    let a = Backfill::new(store.clone(), leased(2_000)).with_holder("process-a");
    let b = Backfill::new(store.clone(), leased(2_000)).with_holder("process-b");
    let j = job("general", source, from, sink.clone(), "!room:x");
    let stop = CancellationToken::new();
    let (ra, rb) = tokio::join!(a.run_job(&j, &stop), b.run_job(&j, &stop));
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(
        arrived(&sink, "!room:x"),
        expected(40, |_| 1),
        "each message exactly once"
    );
    assert_eq!(ra.parts_sent + rb.parts_sent, 40);
    assert_eq!(
        (ra.copied, rb.copied),
        (40, 40),
        "both report the link complete"
    );
}

#[tokio::test]
async fn a_dead_holder_is_taken_over_after_its_lease_expires() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(5);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let j = job("general", source, from, sink.clone(), "!room:x");
    // A process took the link and died (it never renews).
    store
        .acquire_lease(&j.lease_name(), "dead", Duration::from_millis(400))
        .await
        .unwrap()
        .expect("free lease");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = Backfill::new(store.clone(), leased(1_000)).with_progress(tx);
    let summary = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!(summary.copied, 5);
    assert_eq!(arrived(&sink, "!room:x"), expected(5, |_| 1));
    let mut waited_for = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let ProgressKind::Waiting { holder, .. } = ev.kind {
            waited_for.push(holder);
        }
    }
    assert_eq!(waited_for, ["dead"], "said once whom it waited for");
}

#[tokio::test]
async fn a_job_whose_lease_is_taken_over_stops_sending() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(200);
    let sink = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(10)));
    let j = job("general", source, from, sink.clone(), "!room:x");
    let engine = Backfill::new(store.clone(), leased(300)).with_holder("slow");
    let stop = CancellationToken::new();
    let run = engine.run_job(&j, &stop);
    let thief = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let held = store
            .lease_info(&j.lease_name())
            .await
            .unwrap()
            .expect("taken");
        assert_eq!(held.holder, "slow");
        let lease = bridge_lease(&held);
        // What another process sees once the lease has expired: it takes it over.
        store.release_lease(&lease).await.unwrap();
        store
            .acquire_lease(&j.lease_name(), "thief", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("released lease");
        sink.delivered().len()
    };
    let (result, at_theft) = tokio::join!(run, thief);
    let err = result.expect_err("the job must stop");
    assert!(
        matches!(err, BackfillError::Store(StoreError::LeaseLost { .. })),
        "{err}"
    );
    let after = sink.delivered().len() - at_theft;
    assert!(
        after <= 1,
        "{after} sends after the lease was taken over (one in flight at most)"
    );
    assert!(at_theft > 0 && at_theft < 200);
}

fn bridge_lease(info: &crate::store::LeaseInfo) -> crate::store::Lease {
    crate::store::Lease {
        name: info.name.clone(),
        holder: info.holder.clone(),
        epoch: info.epoch,
    }
}

#[tokio::test]
async fn setup_is_retried_like_sends() {
    let (_dir, store) = temp_store().await;
    let (from, source) = one_chat(3);
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    sink.fail_resolve(vec![
        AdapterError::RateLimited {
            retry_after: Duration::from_millis(30),
        },
        AdapterError::transient("connection reset"),
    ]);
    let engine = Backfill::new(store.clone(), options());
    let outcomes = engine
        .run(
            vec![auto_job("general", source, from, sink.clone())],
            &CancellationToken::new(),
        )
        .await;
    let [outcome] = &outcomes[..] else {
        panic!("one outcome")
    };
    let summary = outcome.result.as_ref().expect("setup retried");
    assert_eq!((summary.copied, summary.retries), (3, 2));
    assert_eq!(
        outcome.to,
        ChatRef::new(Platform::Matrix, "auto-acme#general")
    );
    assert_eq!(arrived(&sink, "auto-acme#general"), expected(3, |_| 1));
}

#[tokio::test]
async fn a_link_whose_chat_is_missing_fails_alone() {
    let (_dir, store) = temp_store().await;
    let from_a = keybase("acme#general");
    let from_b = keybase("acme#random");
    let source = Arc::new(
        FakeHistory::new(Platform::Keybase)
            .with_chat(from_a.chat.clone(), messages(&from_a, 4))
            .with_chat(from_b.chat.clone(), messages(&from_b, 6)),
    );
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    sink.without_chat("!gone:x");
    let engine = Backfill::new(store.clone(), options());
    let outcomes = engine
        .run(
            vec![
                job("gone", source.clone(), from_a, sink.clone(), "!gone:x"),
                job("random", source, from_b, sink.clone(), "!random:x"),
            ],
            &CancellationToken::new(),
        )
        .await;
    let gone = outcomes.iter().find(|o| &*o.link == "gone").expect("gone");
    let random = outcomes
        .iter()
        .find(|o| &*o.link == "random")
        .expect("random");
    let err = gone.result.as_ref().expect_err("missing chat");
    assert!(
        matches!(
            err,
            BackfillError::Setup {
                error: AdapterError::Fatal(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.advice().contains("other links were not affected"));
    assert_eq!(random.result.as_ref().expect("random").copied, 6);
    assert_eq!(arrived(&sink, "!random:x").len(), 6);
    assert!(arrived(&sink, "!gone:x").is_empty());
}

#[tokio::test]
async fn setup_runs_one_at_a_time_across_processes() {
    let (_dir, store) = temp_store().await;
    let chats: Vec<ChatRef> = (0..4).map(|i| keybase(&format!("acme#c{i}"))).collect();
    let source = Arc::new(
        chats
            .iter()
            .fold(FakeHistory::new(Platform::Keybase), |h, c| {
                h.with_chat(c.chat.clone(), messages(c, 3))
            }),
    );
    let sink = Arc::new(FakeSink::new(Platform::Matrix).with_latency(Duration::from_millis(5)));
    let jobs: Vec<BackfillJob> = chats
        .iter()
        .map(|c| auto_job(c.chat.as_str(), source.clone(), c.clone(), sink.clone()))
        .collect();
    let a = Backfill::new(store.clone(), leased(2_000)).with_holder("a");
    let b = Backfill::new(store.clone(), leased(2_000)).with_holder("b");
    let stop = CancellationToken::new();
    let (ra, rb) = tokio::join!(a.run(jobs.clone(), &stop), b.run(jobs, &stop));
    assert!(ra.iter().chain(&rb).all(|o| o.result.is_ok()));
    assert_eq!(sink.max_resolving(), 1, "two setups ran at once");
    assert_eq!(sink.delivered().len(), 12, "each message once");
}
