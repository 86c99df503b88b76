//! What the homeserver queued while kbbridge was down.

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
    let listening = appservice::start(
        &env.config,
        &env.client,
        env.store.clone(),
        env.rooms.clone(),
    )
    .await
    .unwrap();
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
