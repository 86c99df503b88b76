//! Leases: one holder at a time, takeover after expiry with a higher epoch, fenced writes.

use super::*;

const LONG: Duration = Duration::from_secs(60);

fn msg(id: &str) -> MsgRef {
    kb().msg(MsgId::new(id))
}

store_test! {
    /// A held lease is refused to others, who learn who holds it; released, it is free again
    /// with a higher epoch.
    async fn a_lease_has_one_holder_at_a_time(db) {
        let store = db.open().await;
        let a = store.acquire_lease("link:x", "a", LONG).await.unwrap().expect("free lease");
        assert_eq!(a.epoch, 1);
        let busy = store.acquire_lease("link:x", "b", LONG).await.unwrap().expect_err("held");
        assert_eq!((busy.holder.as_str(), busy.epoch, busy.active), ("a", 1, true));
        assert!(busy.expires_at > chrono::Utc::now() + chrono::Duration::seconds(50));
        // Another name is another lease.
        store.acquire_lease("link:y", "b", LONG).await.unwrap().expect("other lease");

        store.release_lease(&a).await.unwrap();
        let b = store.acquire_lease("link:x", "b", LONG).await.unwrap().expect("released");
        assert_eq!(b.epoch, 2);
        let all = store.leases().await.unwrap();
        let names: Vec<(&str, &str, bool)> =
            all.iter().map(|l| (l.name.as_str(), l.holder.as_str(), l.active)).collect();
        assert_eq!(names, [("link:x", "b", true), ("link:y", "b", true)]);
    }
}

store_test! {
    /// A holder that stops renewing loses the lease at its expiry; the taker's epoch is
    /// higher, the former holder can no longer renew, and its fenced writes are refused.
    async fn an_expired_lease_is_taken_over_and_fences_the_former_holder(db) {
        let store = db.open().await;
        let old = store
            .acquire_lease("link:x", "a", Duration::from_millis(200))
            .await
            .unwrap()
            .expect("free lease");
        assert!(store.renew_lease(&old, Duration::from_millis(200)).await.unwrap());
        store.mark_pending_fenced(&msg("1"), &dc(), 0, &old).await.unwrap();
        assert!(store.acquire_lease("link:x", "b", LONG).await.unwrap().is_err());

        tokio::time::sleep(Duration::from_millis(300)).await;
        let new = store.acquire_lease("link:x", "b", LONG).await.unwrap().expect("expired");
        assert_eq!(new.epoch, old.epoch + 1);
        assert!(!store.renew_lease(&old, LONG).await.unwrap(), "a lost lease must not renew");
        assert!(!store.lease_held(&old).await.unwrap());
        let err = store.mark_pending_fenced(&msg("2"), &dc(), 0, &old).await.unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
        assert!(store.copies(&msg("2"), &dc()).await.unwrap().is_empty(), "nothing written");
        // Releasing a lost lease leaves the new holder's alone.
        store.release_lease(&old).await.unwrap();
        assert!(store.lease_held(&new).await.unwrap());
        store.mark_pending_fenced(&msg("2"), &dc(), 0, &new).await.unwrap();
        assert_eq!(store.copies(&msg("2"), &dc()).await.unwrap()[0].state, CopyState::Pending);
    }
}

store_test! {
    /// A fenced pending mark behaves as `mark_pending`: a sent part stays sent.
    async fn a_fenced_mark_keeps_sent_parts(db) {
        let store = db.open().await;
        let lease = store.acquire_lease("link:x", "a", LONG).await.unwrap().expect("free");
        store.mark_sent(&msg("1"), &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_pending_fenced(&msg("1"), &dc(), 0, &lease).await.unwrap();
        assert_eq!(store.copies(&msg("1"), &dc()).await.unwrap(), [sent(0, "d1")]);
    }
}

store_test! {
    /// Many contenders at once, in parallel: exactly one gets the lease.
    async fn concurrent_contenders_get_one_lease(db) {
        let mut stores = Vec::new();
        for _ in 0..6 {
            stores.push(db.open().await);
        }
        let tries = stores.iter().enumerate().map(|(i, s)| async move {
            s.acquire_lease("setup:discord", &format!("p{i}"), LONG).await.unwrap()
        });
        let won = futures::future::join_all(tries).await.into_iter().filter(Result::is_ok).count();
        assert_eq!(won, 1);
    }
}

/// A source that says who started it on `started`, then runs until its token is cancelled.
async fn source(
    who: &'static str,
    started: tokio::sync::mpsc::UnboundedSender<&'static str>,
    token: tokio_util::sync::CancellationToken,
) -> Result<(), StoreError> {
    let _ = started.send(who);
    token.cancelled().await;
    let _ = started.send("stopped");
    Ok(())
}

store_test! {
    /// An ingress source runs in one holder of its lease at a time: the other stands by, starts
    /// it once the first holder is gone (killed: its lease expires), and releases the lease
    /// when stopped.
    async fn an_ingress_source_runs_in_one_holder_and_moves_when_it_dies(db) {
        use bridge_core::lease::{LeaseOptions, run_while_holding};
        use tokio_util::sync::CancellationToken;

        let ttl = Duration::from_secs(1);
        let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let spawn = |who: &'static str| {
            let (store, tx) = (db.clone(), tx.clone());
            let stop = CancellationToken::new();
            let token = stop.clone();
            let task = tokio::spawn(async move {
                let store = store.open().await;
                let options = LeaseOptions { ttl, holder: who.to_owned() };
                run_while_holding(&store, "matrix-ingress", &options, &token, |t| {
                    source(who, tx.clone(), t)
                })
                .await
            });
            (task, stop)
        };
        let (a, _stop_a) = spawn("a");
        assert_eq!(started.recv().await, Some("a"));
        let (b, stop_b) = spawn("b");
        tokio::time::sleep(ttl).await;
        assert!(started.try_recv().is_err(), "b stands by while a holds the lease");

        a.abort();
        let killed = tokio::time::Instant::now();
        let next = tokio::time::timeout(ttl * 3, started.recv()).await.expect("b took over");
        assert_eq!(next, Some("b"));
        assert!(killed.elapsed() <= ttl * 2, "{:?}", killed.elapsed());

        stop_b.cancel();
        b.await.unwrap().unwrap();
        assert_eq!(started.recv().await, Some("stopped"));
        let store = db.open().await;
        let lease = store.lease_info("matrix-ingress").await.unwrap().unwrap();
        assert_eq!((lease.holder.as_str(), lease.active), ("b", false), "released at the stop");
    }
}

/// Runs `sql` on the database of `db` over a connection of its own (as another program would).
async fn execute(db: &Db, sql: &str) {
    match &db.file {
        Some(file) => {
            let options = SqliteConnectOptions::new().filename(file);
            let mut conn = SqliteConnection::connect_with(&options)
                .await
                .expect("connect");
            conn.execute(sql).await.expect("execute");
        }
        None => {
            let mut conn = connect_pg(&db.url).await.expect("connect");
            conn.execute(sql).await.expect("execute");
        }
    }
}

store_test! {
    /// A source whose ingress lease is taken over (it had expired: the holder was cut off) is
    /// stopped at once, and waits to run again until the lease is free.
    async fn an_ingress_source_stops_when_its_lease_is_taken_over(db) {
        use bridge_core::lease::{LeaseOptions, run_while_holding};
        use tokio_util::sync::CancellationToken;

        let store = db.open().await;
        let ttl = Duration::from_secs(1);
        let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let running = {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let options = LeaseOptions { ttl, holder: "a".to_owned() };
                run_while_holding(&store, "keybase-listen:alice", &options, &stop, |t| {
                    source("a", tx.clone(), t)
                })
                .await
            })
        };
        assert_eq!(started.recv().await, Some("a"));
        // Expired behind its holder's back, and taken by another.
        execute(&db, "UPDATE lease SET expires_at = 0 WHERE name = 'keybase-listen:alice'").await;
        let thief = store.acquire_lease("keybase-listen:alice", "b", LONG).await.unwrap().expect("expired");
        let stopped = tokio::time::timeout(ttl * 2, started.recv()).await.expect("stopped in time");
        assert_eq!(stopped, Some("stopped"));
        tokio::time::sleep(ttl).await;
        assert!(started.try_recv().is_err(), "not started again while b holds it");
        store.release_lease(&thief).await.unwrap();
        let again = tokio::time::timeout(ttl * 2, started.recv()).await.expect("started again");
        assert_eq!(again, Some("a"));
        stop.cancel();
        running.await.unwrap().unwrap();
    }
}
