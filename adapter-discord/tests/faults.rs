//! Connection faults through the backfill engine, against the stand-in over TLS with serenity's
//! real stack: a long run in which connections keep dropping still ends, complete, exactly once.

mod common;

use std::time::Duration;

use common::{backfill, chat, kb, rig};
use discord_standin::{Fault, FaultTarget, Limits};

/// Every 7th webhook execute loses its connection (alternately before and after the message is
/// created), over 350 messages in seven links; and before that, one link's first five sends
/// after its bucket's window reset all lose theirs. Those five once left the limiter counting
/// the bucket as spent, with no reset time and no request in flight, waiting for an answer that
/// could never come: the link stalled without end (nothing failed, nothing moved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_where_every_7th_send_drops_ends_complete_and_exactly_once() {
    const LINKS: u64 = 7;
    const PER_LINK: u64 = 50;
    let limits = Limits::discord().scaled(0.05);
    let window = limits.webhook_execute.window;
    let r = rig(limits, 1000).await;
    let chats: Vec<_> = (0..LINKS)
        .map(|i| {
            let c = chat(&format!("acme#c{i}"));
            let msgs: Vec<_> = (1..=PER_LINK)
                .map(|n| kb(&c, n, &format!("c{i} m{n}")))
                .collect();
            (c, msgs, r.channel(&format!("c{i}")))
        })
        .collect();
    let sink = r.sink();
    let stalled = |what: &str| panic!("{what}: a link stalled; {:?}", r.standin.stats());

    // One link: a few sends (the bucket's limits are learned), a pause past its window, then
    // five drops in a row.
    let (c0, m0, ch0) = chats[0].clone();
    backfill(
        &r.store,
        sink.clone(),
        vec![(c0.clone(), m0[..10].to_vec(), ch0)],
    )
    .await;
    tokio::time::sleep(window * 2).await;
    r.standin
        .inject(Fault::Drop, FaultTarget::WebhookExecute, 5);
    tokio::time::timeout(
        Duration::from_secs(60),
        backfill(&r.store, sink.clone(), vec![(c0, m0, ch0)]),
    )
    .await
    .unwrap_or_else(|_| stalled("five drops in a row"));
    assert_eq!(r.standin.stats().dropped, 5);

    // Every link, every 7th send dropped.
    r.standin.fault_every(
        7,
        FaultTarget::WebhookExecute,
        &[Fault::Drop, Fault::DropAfterCommit],
    );
    let summaries = tokio::time::timeout(
        Duration::from_secs(240),
        backfill(&r.store, sink, chats.clone()),
    )
    .await
    .unwrap_or_else(|_| stalled("every 7th send dropped"));

    let stats = r.standin.stats();
    assert!(
        stats.dropped >= 15 && stats.dropped_after_commit >= 10,
        "the faults happened: {stats:?}"
    );
    assert_eq!(summaries.len(), LINKS as usize);
    for s in &summaries {
        assert_eq!((s.copied, s.rejected), (PER_LINK, 0), "{s:?}");
    }
    for (i, (_, _, channel)) in chats.iter().enumerate() {
        let got: Vec<String> = r
            .standin
            .messages(*channel)
            .iter()
            .map(|m| m.content.rsplit("> ").next().unwrap_or("").to_owned())
            .collect();
        let expected: Vec<String> = (1..=PER_LINK).map(|n| format!("c{i} m{n}")).collect();
        assert_eq!(got, expected, "channel c{i}: every message once, in order");
    }
}
