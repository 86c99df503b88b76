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
