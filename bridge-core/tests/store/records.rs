//! Progress, targets and ghosts; IDs that hold separators; batches.

use super::*;

store_test! {
    /// Progress is upserted per (source, target) and listed in a stable order.
    async fn progress_is_upserted(db) {
        let store = db.open().await;
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), None);
        let first = progress(kb(), dc(), Some("c1"), 10);
        store.save_progress(&first).await.unwrap();
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), Some(first));
        let mut last = progress(kb(), dc(), None, 20);
        last.skipped = u64::from(u32::MAX) + 7;
        store.save_progress(&last).await.unwrap();
        assert_eq!(store.progress(&kb(), &dc()).await.unwrap(), Some(last.clone()));
        assert_eq!(store.progress(&kb(), &mx()).await.unwrap(), None);

        let random = ChatRef::new(Platform::Keybase, "acme#random");
        let others =
            [progress(random, dc(), Some("r"), 1), progress(kb(), mx(), Some("m"), 2),
             progress(dc(), kb(), Some("d"), 3)];
        for p in &others {
            store.save_progress(p).await.unwrap();
        }
        let all = store.all_progress().await.unwrap();
        let [random_dc, kb_mx, dc_kb] = others;
        assert_eq!(all, [dc_kb, last, kb_mx, random_dc]);
    }
}

store_test! {
    /// Targets and ghosts are upserted under their full keys.
    async fn targets_and_ghosts_are_upserted(db) {
        let store = db.open().await;
        let (d, m) = (Platform::Discord, Platform::Matrix);
        assert_eq!(store.target(d, "webhook", "acme#general").await.unwrap(), None);
        store.save_target(d, "webhook", "acme#general", "w1", false).await.unwrap();
        store.save_target(d, "webhook", "acme#general", "w2", true).await.unwrap();
        store.save_target(d, "channel", "acme#general", "c1", true).await.unwrap();
        store.save_target(m, "webhook", "acme#general", "other", false).await.unwrap();
        let webhook = store.target(d, "webhook", "acme#general").await.unwrap();
        assert_eq!(webhook.as_deref(), Some("w2"));
        let channel = store.target(d, "channel", "acme#general").await.unwrap();
        assert_eq!(channel.as_deref(), Some("c1"));

        let alice = UserId::new("alice");
        assert_eq!(store.ghost(m, Platform::Keybase, &alice).await.unwrap(), None);
        store.save_ghost(m, Platform::Keybase, &alice, "@kb_alice:x", "alice").await.unwrap();
        store.save_ghost(m, Platform::Keybase, &alice, "@kb_alice2:x", "Alice").await.unwrap();
        store.save_ghost(d, Platform::Keybase, &alice, "webhook-name", "alice").await.unwrap();
        let ghost = store.ghost(m, Platform::Keybase, &alice).await.unwrap();
        assert_eq!(ghost.as_deref(), Some("@kb_alice2:x"));
        assert_eq!(store.ghost(m, Platform::Discord, &alice).await.unwrap(), None);
    }
}

store_test! {
    /// IDs holding `:`, `#`, `$`, `/` and non-ASCII come back unchanged, and refs whose
    /// joined forms would be equal stay apart.
    async fn ids_with_separators_round_trip(db) {
        let store = db.open().await;
        let team = ChatRef::new(Platform::Keybase, "acme.eng#général");
        let room = ChatRef::new(Platform::Matrix, "!AbC:matrix.example.org");
        let origin = team.msg("42");
        let event = MsgId::new("$ev:x/y+z=");
        store.mark_sent(&origin, &room, 0, &event).await.unwrap();
        assert_eq!(store.origin_of(&room.msg(event.clone())).await.unwrap(), Some(origin.clone()));
        assert_eq!(store.copy_in(&origin, &room).await.unwrap(), Some(event.clone()));
        store.mark_pending(&origin, &room, 1).await.unwrap();
        assert_eq!(store.pending_in(&room).await.unwrap(), [(origin.clone(), 1)]);
        store.mark_rejected(&origin, &room, 1, "nope: #1").await.unwrap();
        assert_eq!(store.rejected(&team, &room).await.unwrap()[0].origin, origin);
        let p = progress(team.clone(), room.clone(), Some("team#chan:17"), 1);
        store.save_progress(&p).await.unwrap();
        assert_eq!(store.all_progress().await.unwrap(), [p]);
        let user = UserId::new("@alice:example.org");
        store.save_ghost(Platform::Discord, Platform::Matrix, &user, "g", "Alïce").await.unwrap();
        let ghost = store.ghost(Platform::Discord, Platform::Matrix, &user).await.unwrap();
        assert_eq!(ghost.as_deref(), Some("g"));

        // "a:b" + "c" and "a" + "b:c" both read "matrix:a:b:c" when joined.
        let (ab, a) = (ChatRef::new(Platform::Matrix, "a:b"), ChatRef::new(Platform::Matrix, "a"));
        store.mark_sent(&kb().msg("1"), &ab, 0, &MsgId::new("c")).await.unwrap();
        store.mark_sent(&kb().msg("2"), &a, 0, &MsgId::new("b:c")).await.unwrap();
        assert_eq!(store.origin_of(&ab.msg("c")).await.unwrap(), Some(kb().msg("1")));
        assert_eq!(store.origin_of(&a.msg("b:c")).await.unwrap(), Some(kb().msg("2")));
    }
}

store_test! {
    /// A batch of more than 10,000 rows lands in one transaction, then answers lookups.
    async fn sent_batches_are_recorded(db) {
        let store = db.open().await;
        let origin = |i: usize| kb().msg(i.to_string());
        store.mark_pending(&origin(5), &dc(), 0).await.unwrap();
        let mut rows: Vec<SentCopy> = (0..12_000)
            .map(|i| SentCopy { origin: origin(i), to: dc(), part: 0, msg: format!("d{i}").into() })
            .collect();
        rows.extend((0..500).map(|i| SentCopy {
            origin: origin(i),
            to: dc(),
            part: 1,
            msg: format!("d{i}.1").into(),
        }));
        store.record_sent_batch(&rows).await.expect("record_sent_batch");
        store.record_sent_batch(&[]).await.expect("empty batch");

        for i in [0, 1, 5, 499, 500, 999, 1_000, 1_001, 7_777, 11_999] {
            let want = MsgId::new(format!("d{i}"));
            assert_eq!(store.copy_in(&origin(i), &dc()).await.unwrap(), Some(want.clone()));
            assert_eq!(store.origin_of(&dc().msg(want)).await.unwrap(), Some(origin(i)));
        }
        assert_eq!(store.origin_of(&dc().msg("d499.1")).await.unwrap(), Some(origin(499)));
        assert_eq!(store.copies(&origin(5), &dc()).await.unwrap(), [sent(0, "d5"), sent(1, "d5.1")]);
        assert_eq!(store.pending_in(&dc()).await.unwrap(), []);
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (12_000, 0));

        // A batch that fails part-way (a target message already taken) writes nothing.
        let mut bad: Vec<SentCopy> = (20_000..21_500)
            .map(|i| SentCopy { origin: origin(i), to: dc(), part: 0, msg: format!("d{i}").into() })
            .collect();
        bad.push(SentCopy { origin: origin(30_000), to: dc(), part: 0, msg: "d7".into() });
        assert!(matches!(store.record_sent_batch(&bad).await, Err(StoreError::Query(_))));
        assert_eq!(store.copy_in(&origin(20_000), &dc()).await.unwrap(), None);
        assert_eq!(store.copy_counts(&kb(), &dc()).await.unwrap(), (12_000, 0));
    }
}
