//! What the live relay keeps: live positions, tombstones, the op journal, reaction copies.

use bridge_core::{
    Cursor,
    store::{OpState, ReactionCopy},
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
