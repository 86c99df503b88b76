//! Message copies: pending → sent, parts, rejections, lookups in every direction, counts.

use super::*;

store_test! {
    /// pending → sent, then lookups from any member of the group into any chat.
    async fn copies_translate_across_three_platforms(db) {
        let store = db.open().await;
        let origin = kb().msg("100");
        store.mark_pending(&origin, &dc(), 0).await.unwrap();
        let pending = CopyRow { part: 0, state: CopyState::Pending, msg: None, detail: None };
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [pending]);
        assert_eq!(store.copy_in(&origin, &dc()).await.unwrap(), None);
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_pending(&origin, &mx(), 0).await.unwrap();
        store.mark_sent(&origin, &mx(), 0, &MsgId::new("$m1")).await.unwrap();
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [sent(0, "d1")]);
        assert_eq!(store.copies(&origin, &mx()).await.unwrap(), [sent(0, "$m1")]);

        let (d, m) = (dc().msg("d1"), mx().msg("$m1"));
        assert_eq!(store.origin_of(&d).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.origin_of(&m).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.origin_of(&origin).await.unwrap(), None);
        assert!(store.is_copy(&d).await.unwrap());
        assert!(store.is_copy(&m).await.unwrap());
        assert!(!store.is_copy(&origin).await.unwrap());
        assert!(!store.is_copy(&dc().msg("d2")).await.unwrap());

        for (from, to, want) in [
            (&origin, dc(), "d1"),
            (&origin, mx(), "$m1"),
            (&origin, kb(), "100"),
            (&d, mx(), "$m1"),
            (&m, dc(), "d1"),
            (&d, kb(), "100"),
            (&m, kb(), "100"),
            (&d, dc(), "d1"),
        ] {
            assert_eq!(store.copy_in(from, &to).await.unwrap(), id(want), "{from} into {to}");
        }
        let elsewhere = ChatRef::new(Platform::Discord, "1100000000000000002");
        assert_eq!(store.copy_in(&origin, &elsewhere).await.unwrap(), None);
        assert_eq!(store.copy_in(&kb().msg("999"), &dc()).await.unwrap(), None);
        assert_eq!(store.copy_in(&kb().msg("999"), &kb()).await.unwrap(), id("999"));

        // The other direction: a Discord message relayed to Keybase.
        let live = dc().msg("d7");
        store.mark_sent(&live, &kb(), 0, &MsgId::new("101")).await.unwrap();
        assert_eq!(store.copy_in(&kb().msg("101"), &dc()).await.unwrap(), id("d7"));
        assert_eq!(store.origin_of(&kb().msg("101")).await.unwrap(), Some(live));
        assert_eq!(store.origin_of(&kb().msg("100")).await.unwrap(), None);
    }
}

store_test! {
    /// A message copied as several parts: rows by part, lookups give part 0.
    async fn parts_translate_to_part_zero(db) {
        let store = db.open().await;
        let origin = kb().msg("5");
        for (part, msg) in [(2, "$p2"), (0, "$p0"), (1, "$p1")] {
            store.mark_pending(&origin, &mx(), part).await.unwrap();
            store.mark_sent(&origin, &mx(), part, &MsgId::new(msg)).await.unwrap();
        }
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d9")).await.unwrap();
        let rows = store.copies(&origin, &mx()).await.unwrap();
        assert_eq!(rows, [sent(0, "$p0"), sent(1, "$p1"), sent(2, "$p2")]);
        assert_eq!(store.copy_in(&origin, &mx()).await.unwrap(), id("$p0"));
        assert_eq!(store.origin_of(&mx().msg("$p2")).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.copy_in(&mx().msg("$p1"), &dc()).await.unwrap(), id("d9"));
        assert_eq!(store.copy_in(&dc().msg("d9"), &mx()).await.unwrap(), id("$p0"));
        assert_eq!(store.copy_in(&mx().msg("$p2"), &mx()).await.unwrap(), id("$p0"));

        // Only part 0 stands for the message: none while it is still pending.
        let half = kb().msg("6");
        store.mark_pending(&half, &mx(), 0).await.unwrap();
        store.mark_sent(&half, &mx(), 1, &MsgId::new("$h1")).await.unwrap();
        assert_eq!(store.copy_in(&half, &mx()).await.unwrap(), None);
        assert_eq!(store.copy_in(&mx().msg("$h1"), &kb()).await.unwrap(), id("6"));
    }
}

store_test! {
    /// Pending parts stay pending, are listed by target chat, and are not lookups' answers.
    async fn pending_parts_are_listed(db) {
        let store = db.open().await;
        let (o1, o2, o3) = (kb().msg("1"), kb().msg("2"), kb().msg("3"));
        for (origin, to, part) in [(&o2, dc(), 0), (&o1, dc(), 1), (&o1, dc(), 0), (&o3, mx(), 0)] {
            store.mark_pending(origin, &to, part).await.unwrap();
        }
        store.mark_pending(&o2, &dc(), 0).await.unwrap();
        store.mark_sent(&o1, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        let pending = store.pending_in(&dc()).await.unwrap();
        assert_eq!(pending, [(o1.clone(), 1), (o2.clone(), 0)]);
        assert_eq!(store.pending_in(&mx()).await.unwrap(), [(o3.clone(), 0)]);
        assert_eq!(store.pending_in(&kb()).await.unwrap(), []);
        assert_eq!(store.copy_in(&o2, &dc()).await.unwrap(), None);
        assert_eq!(store.copies(&o2, &dc()).await.unwrap()[0].state, CopyState::Pending);
    }
}

store_test! {
    /// `mark_pending` never downgrades a sent row, and turns a rejected one pending again.
    async fn mark_pending_keeps_sent_rows(db) {
        let store = db.open().await;
        let origin = kb().msg("1");
        store.mark_sent(&origin, &dc(), 0, &MsgId::new("d1")).await.unwrap();
        store.mark_pending(&origin, &dc(), 0).await.unwrap();
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [sent(0, "d1")]);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
        assert_eq!(store.origin_of(&dc().msg("d1")).await.unwrap(), Some(origin));

        let other = kb().msg("2");
        store.mark_rejected(&other, &dc(), 0, "too large").await.unwrap();
        store.mark_pending(&other, &dc(), 0).await.unwrap();
        let pending = CopyRow { part: 0, state: CopyState::Pending, msg: None, detail: None };
        assert_eq!(store.copies(&other, &dc()).await.unwrap(), [pending]);
        assert_eq!(store.rejected(&kb(), &dc()).await.unwrap(), []);
        store.mark_sent(&other, &dc(), 0, &MsgId::new("d2")).await.unwrap();
        assert_eq!(store.copies(&other, &dc()).await.unwrap(), [sent(0, "d2")]);
    }
}

store_test! {
    /// Rejected parts are listed per (source chat, target chat) with their reasons.
    async fn rejected_parts_are_listed_with_reasons(db) {
        let store = db.open().await;
        let (o1, o2) = (kb().msg("1"), kb().msg("2"));
        store.mark_pending(&o1, &dc(), 0).await.unwrap();
        store.mark_rejected(&o1, &dc(), 0, "file too large").await.unwrap();
        store.mark_sent(&o2, &dc(), 0, &MsgId::new("d2")).await.unwrap();
        store.mark_rejected(&o2, &dc(), 1, "reactions unsupported").await.unwrap();
        store.mark_rejected(&o1, &mx(), 0, "elsewhere").await.unwrap();
        let random = ChatRef::new(Platform::Keybase, "acme#random");
        store.mark_rejected(&random.msg("1"), &dc(), 0, "other chat").await.unwrap();

        let rejected = store.rejected(&kb(), &dc()).await.unwrap();
        let row = |origin: &MsgRef, part, reason: &str| RejectedCopy {
            origin: origin.clone(),
            to: dc(),
            part,
            reason: reason.to_owned(),
        };
        assert_eq!(rejected, [row(&o1, 0, "file too large"), row(&o2, 1, "reactions unsupported")]);
        let copies = store.copies(&o1, &dc()).await.unwrap();
        assert_eq!(copies[0].state, CopyState::Rejected);
        assert_eq!(copies[0].detail.as_deref(), Some("file too large"));
        assert_eq!(store.copy_in(&o1, &dc()).await.unwrap(), None);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
    }
}

store_test! {
    /// Whole-message counts per (source chat, target chat), as the backfill reports them.
    async fn copy_counts_count_messages(db) {
        let store = db.open().await;
        let m = |n: &str| kb().msg(n);
        for (origin, part, msg) in [("1", 0, "a"), ("1", 1, "b"), ("2", 0, "c"), ("3", 0, "d")] {
            store.mark_sent(&m(origin), &dc(), part, &MsgId::new(msg)).await.unwrap();
        }
        store.mark_pending(&m("2"), &dc(), 1).await.unwrap();
        store.mark_rejected(&m("3"), &dc(), 1, "no").await.unwrap();
        store.mark_pending(&m("4"), &dc(), 0).await.unwrap();
        store.mark_sent(&m("5"), &mx(), 0, &MsgId::new("$e")).await.unwrap();
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (1, 1));
        assert_eq!(store.copy_counts(&kb(), &mx()).await.unwrap(), (1, 0));
        assert_eq!(store.copy_counts(&dc(), &kb()).await.unwrap(), (0, 0));
    }
}
