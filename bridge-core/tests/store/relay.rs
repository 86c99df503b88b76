//! What the live relay keeps: live positions, tombstones, the op journal, reaction copies,
//! copies' text layouts and reactions by their own IDs.

use bridge_core::{
    Cursor,
    store::{OpState, ReactionCopy, SourceReaction, TextLayout},
};

use super::*;

fn kb_msg(id: &str) -> MsgRef {
    kb().msg(MsgId::new(id))
}

store_test! {
    /// A chat's live position is replaced as it moves; other chats keep theirs. A tombstone is
    /// kept once, whoever deletes again.
    async fn live_positions_and_tombstones(db) {
        let store = db.open().await;
        assert_eq!(store.live_position(&kb()).await.unwrap(), None);
        store.save_live_position(&kb(), &Cursor::new("41")).await.unwrap();
        store.save_live_position(&kb(), &Cursor::new("42")).await.unwrap();
        store.save_live_position(&mx(), &Cursor::new("$e")).await.unwrap();
        assert_eq!(store.live_position(&kb()).await.unwrap(), Some(Cursor::new("42")));
        assert_eq!(store.live_position(&mx()).await.unwrap(), Some(Cursor::new("$e")));

        assert!(!store.is_tombstoned(&kb_msg("7")).await.unwrap());
        store.add_tombstone(&kb_msg("7")).await.unwrap();
        store.add_tombstone(&kb_msg("7")).await.unwrap();
        assert!(store.is_tombstoned(&kb_msg("7")).await.unwrap());
        assert!(!store.is_tombstoned(&kb_msg("8")).await.unwrap());
    }
}

store_test! {
    /// An operation goes pending → done per target chat, keeps its result, and a late pending
    /// mark does not undo it.
    async fn the_op_journal_is_pending_then_done(db) {
        let store = db.open().await;
        let edit = kb_msg("90");
        assert_eq!(store.op_state(&edit, &dc()).await.unwrap(), None);
        store.mark_op_pending(&edit, &dc()).await.unwrap();
        assert_eq!(store.op_state(&edit, &dc()).await.unwrap(), Some(OpState::Pending));
        assert_eq!(store.op_state(&edit, &mx()).await.unwrap(), None, "per target chat");
        store.mark_op_done(&edit, &dc(), Some("r1")).await.unwrap();
        store.mark_op_pending(&edit, &dc()).await.unwrap();
        assert_eq!(
            store.op_state(&edit, &dc()).await.unwrap(),
            Some(OpState::Done { result: Some("r1".into()) })
        );
        store.mark_op_done(&edit, &mx(), None).await.unwrap();
        assert_eq!(
            store.op_state(&edit, &mx()).await.unwrap(),
            Some(OpState::Done { result: None })
        );
        store.forget_op(&edit, &mx()).await.unwrap();
        assert_eq!(store.op_state(&edit, &mx()).await.unwrap(), None);
        assert!(store.op_state(&edit, &dc()).await.unwrap().is_some(), "only that chat's");
    }
}

store_test! {
    /// Reactions shared on one target message are counted per source user; the count falls
    /// to 0 with the last one taken back, and a reaction recorded twice counts once.
    async fn reaction_copies_are_reference_counted(db) {
        let store = db.open().await;
        let copy = |sender: &str, reaction: Option<&str>| ReactionCopy {
            origin: kb_msg("5"),
            sender: sender.to_owned(),
            emoji: "👍".to_owned(),
            to: dc(),
            msg: MsgId::new("d5"),
            reaction: reaction.map(MsgId::new),
        };
        assert_eq!(store.add_reaction_copy(&copy("alice", Some("x1"))).await.unwrap(), 1);
        assert_eq!(store.add_reaction_copy(&copy("bob", None)).await.unwrap(), 2);
        assert_eq!(store.add_reaction_copy(&copy("bob", None)).await.unwrap(), 2, "once");
        let other = ReactionCopy { emoji: "🎉".to_owned(), ..copy("bob", None) };
        assert_eq!(store.add_reaction_copy(&other).await.unwrap(), 1, "per emoji");

        let (removed, left) = store
            .remove_reaction_copy(&kb_msg("5"), "alice", "👍", &dc())
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!((removed, left), (copy("alice", Some("x1")), 1));
        let (_, left) = store
            .remove_reaction_copy(&kb_msg("5"), "bob", "👍", &dc())
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!(left, 0);
        assert_eq!(
            store.remove_reaction_copy(&kb_msg("5"), "bob", "👍", &dc()).await.unwrap(),
            None
        );
        assert_eq!(store.reaction_count(&dc(), &MsgId::new("d5"), "🎉").await.unwrap(), 1);
    }
}

store_test! {
    /// A copy's text layout is recorded once (a later record leaves it), replaced with the op
    /// done and its steps forgotten by a finished edit, and read back to the millisecond.
    async fn text_layouts_are_recorded_once_and_replaced_by_a_finished_edit(db) {
        let store = db.open().await;
        let origin = kb_msg("5");
        assert_eq!(store.text_layout(&origin, &dc()).await.unwrap(), None);
        let first = TextLayout { parts: vec![0, 1, 2], next_part: 4, edited_at: None };
        store.record_text_layout(&origin, &dc(), &first).await.unwrap();
        let other = TextLayout { parts: vec![0], next_part: 9, edited_at: None };
        store.record_text_layout(&origin, &dc(), &other).await.unwrap();
        assert_eq!(store.text_layout(&origin, &dc()).await.unwrap(), Some(first));
        assert_eq!(store.text_layout(&origin, &mx()).await.unwrap(), None, "per target chat");

        let op = kb_msg("edit@1:5");
        let step = kb_msg("edit@1:5#0");
        store.mark_op_pending(&op, &dc()).await.unwrap();
        store.mark_op_done(&step, &dc(), None).await.unwrap();
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).expect("valid time");
        let edited = TextLayout { parts: vec![0, 4, 5], next_part: 6, edited_at: Some(at) };
        let steps = std::slice::from_ref(&step);
        store.finish_edit(&op, steps, &origin, &dc(), &edited).await.unwrap();
        assert_eq!(store.text_layout(&origin, &dc()).await.unwrap(), Some(edited));
        assert_eq!(
            store.op_state(&op, &dc()).await.unwrap(),
            Some(OpState::Done { result: None })
        );
        assert_eq!(store.op_state(&step, &dc()).await.unwrap(), None, "steps forgotten");
    }
}

store_test! {
    /// A part an edit deleted is forgotten: the copy's other parts stay, and its target
    /// message is no longer a copy.
    async fn a_removed_part_is_forgotten(db) {
        let store = db.open().await;
        let origin = kb_msg("5");
        for (part, msg) in [(0, "d0"), (1, "d1"), (2, "d2")] {
            store.mark_sent(&origin, &dc(), part, &MsgId::new(msg)).await.unwrap();
        }
        store.remove_copy_part(&origin, &dc(), 1).await.unwrap();
        store.remove_copy_part(&origin, &dc(), 1).await.unwrap();
        assert_eq!(store.copies(&origin, &dc()).await.unwrap(), [sent(0, "d0"), sent(2, "d2")]);
        assert!(!store.is_copy(&dc().msg(MsgId::new("d1"))).await.unwrap());
    }
}

store_test! {
    /// A reaction is found by its own ID in its chat, recorded once, and taken back once.
    async fn source_reactions_are_found_by_their_own_id(db) {
        let store = db.open().await;
        let reaction = SourceReaction {
            id: kb_msg("r9"),
            origin: dc().msg(MsgId::new("d5")),
            sender: UserId::new("alice"),
            sender_name: "Alice".to_owned(),
            emoji: "👍".to_owned(),
            removed: false,
        };
        assert_eq!(store.source_reaction(&kb_msg("r9")).await.unwrap(), None);
        store.record_source_reaction(&reaction).await.unwrap();
        let other = SourceReaction { emoji: "🎉".to_owned(), ..reaction.clone() };
        store.record_source_reaction(&other).await.unwrap();
        assert_eq!(store.source_reaction(&kb_msg("r9")).await.unwrap(), Some(reaction.clone()));
        assert_eq!(
            store.source_reaction(&mx().msg(MsgId::new("r9"))).await.unwrap(),
            None,
            "per chat"
        );
        store.mark_source_reaction_removed(&kb_msg("r9")).await.unwrap();
        store.mark_source_reaction_removed(&kb_msg("r9")).await.unwrap();
        store.record_source_reaction(&reaction).await.unwrap();
        let found = store.source_reaction(&kb_msg("r9")).await.unwrap();
        assert_eq!(found, Some(SourceReaction { removed: true, ..reaction }), "stays removed");
    }
}
