//! What the homeserver queued while kbbridge was down.

use adapter_matrix::registration::APPSERVICE_ID;

use super::*;

/// While kbbridge is down (first answering with a wrong hs_token, then not listening at all),
/// the homeserver keeps the user's event: nothing reaches the inbox. Once the listener is up
/// and has pinged, the queued transaction arrives at once (long before the homeserver's next
/// scheduled retry), and only once.
#[tokio::test]
async fn what_the_homeserver_queued_while_down_arrives_after_the_ping() {
    let _one = PUSHING.lock().await;
    let p = pushing();
    let (env, listening) = env(p).await;
    listening.stop().await;

    // A listener with the wrong token: the homeserver's pushes get 403.
    let filter = Filter {
        ours: Ours::new(env.client.bot().to_owned(), &env.config.ghost_prefix),
        rooms: env.rooms.clone(),
    };
    let wrong = Arc::new(Receiver::new(
        env.store.clone(),
        filter,
        Secret::new("not-the-hs-token"),
    ));
    let wrong = Listening::start(TcpListener::bind(p.listen).await.unwrap(), wrong).unwrap();
    let posted = Instant::now();
    let queued = env.say("posted while kbbridge was down").await;
    // The push at once and the first retry (2 s later) are refused.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    wrong.stop().await;
    assert_eq!(
        env.store.inbox_counts(INGRESS).await.unwrap(),
        (0, 1),
        "nothing written"
    );
    // Not listening: the retry at 6 s fails too; the next is due 8 s later.
    tokio::time::sleep(Duration::from_millis(7000).saturating_sub(posted.elapsed())).await;

    let started = Instant::now();
    let listening = env.listen().await;
    env.wait_for(&queued).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "arrived {took:?} after the start: not sent by the ping (posted {:?} before)",
        started - posted
    );
    let waiting = env.store.inbox_waiting(INGRESS, 100).await.unwrap();
    let ids: Vec<&str> = waiting.iter().map(|i| i.native_id.as_str()).collect();
    assert_eq!(ids, [queued.as_str()], "once");
    listening.stop().await;
}

/// An event the homeserver never pushes (Synapse's recovery race, `gaps.rs`: here its queued
/// transaction is thrown away while kbbridge is down) is found in the room when the next event
/// there is pushed, and taken before it, once; the late transaction, sent by hand after, adds
/// nothing.
#[tokio::test]
async fn an_event_the_homeserver_skipped_is_taken_before_the_next_one_in_its_room() {
    let _one = PUSHING.lock().await;
    let p = pushing();
    let (env, listening) = env(p).await;
    let before = env.say("before kbbridge stopped").await;
    env.wait_for(&before).await;
    listening.stop().await;

    let skipped = env.say("never pushed").await;
    // The push fails at once (nobody listens): Synapse queues the transaction, then loses it.
    let started = Instant::now();
    loop {
        let dropped = p
            .synapse
            .drop_queued_transactions(APPSERVICE_ID)
            .expect("drop Synapse's queued transactions");
        if dropped > 0 {
            break;
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "Synapse queued no transaction for {skipped}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let listening = env.listen().await;
    let after = env.say("pushed after the restart").await;
    env.wait_for(&after).await;
    let ids = |items: Vec<bridge_core::store::InboxItem>| -> Vec<String> {
        items.into_iter().map(|i| i.native_id).collect()
    };
    let waiting = ids(env.store.inbox_waiting(INGRESS, 100).await.unwrap());
    assert_eq!(
        waiting,
        [before.clone(), skipped.clone(), after.clone()],
        "the skipped event, once, in the room's order"
    );

    // The lost transaction delivered after all (as Synapse's next recovery would): no effect.
    let late = json!({"events": [env.event(&skipped).await]});
    let status = reqwest::Client::new()
        .put(format!(
            "http://{}/_matrix/app/v1/transactions/late-{}",
            p.listen,
            segment(&skipped)
        ))
        .bearer_auth(&p.hs_token)
        .header("content-type", "application/json")
        .body(late.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "late transaction answered {status}");
    let waiting_again = ids(env.store.inbox_waiting(INGRESS, 100).await.unwrap());
    assert_eq!(waiting_again, waiting, "the late transaction added nothing");
    listening.stop().await;
}
