//! Degraded copies: notes kept on the sent part 0, counted and listed per (source, target).

use super::*;

store_test! {
    /// Notes stick to a sent part 0 only, and survive a re-send attempt of it.
    async fn degraded_copies_are_counted_and_listed(db) {
        let store = db.open().await;
        let (one, two, three) = (kb().msg("1"), kb().msg("2"), kb().msg("3"));
        store.mark_sent(&one, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_sent(&one, &dc(), 1, &MsgId::new("d2")).await.unwrap();
        store.mark_sent(&two, &dc(), 0, &MsgId::new("d3")).await.unwrap();
        store.mark_pending(&three, &dc(), 0).await.unwrap();
        assert_eq!(store.degraded_count(&kb(), &dc()).await.unwrap(), 0);

        store.mark_degraded(&one, &dc(), "a.pdf (2.0 KiB) was not copied: gone").await.unwrap();
        // A pending copy has nothing to carry notes yet.
        store.mark_degraded(&three, &dc(), "b was not copied: gone").await.unwrap();
        // Another target's copy is another copy.
        store.mark_sent(&two, &mx(), 0, &MsgId::new("$e")).await.unwrap();
        store.mark_degraded(&two, &mx(), "c was not copied: gone").await.unwrap();
        // A later pending mark of a sent part leaves it (and its notes) alone.
        store.mark_pending(&one, &dc(), 0).await.unwrap();

        assert_eq!(store.degraded_count(&kb(), &dc()).await.unwrap(), 1);
        assert_eq!(store.degraded_count(&kb(), &mx()).await.unwrap(), 1);
        let listed = store.degraded(&kb(), &dc()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].origin, one);
        assert_eq!(listed[0].to, dc());
        assert_eq!(listed[0].notes, "a.pdf (2.0 KiB) was not copied: gone");
        // Still a copied message, not a rejected one.
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (2, 0));
        let rows = store.copies(&one, &dc()).await.unwrap();
        assert_eq!(rows[0].state, CopyState::Sent);
        assert_eq!(rows[1], sent(1, "d2"));
    }
}
