//! The inbox: a pushed transaction taken once, its events kept in order until done, an event
//! redelivered under another transaction kept once.

use bridge_core::store::TxnOutcome;

use super::*;

fn events(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| ((*id).to_owned(), format!(r#"{{"event_id":"{id}"}}"#)))
        .collect()
}

store_test! {
    /// A transaction's events are written in order; the same transaction ID again writes
    /// nothing, whatever it carries.
    async fn a_transaction_is_taken_once(db) {
        let store = db.open().await;
        let first = store.take_transaction("1", "matrix", &events(&["$a", "$b"])).await.unwrap();
        assert_eq!(first, TxnOutcome::Taken { stored: 2, known: 0 });
        let again = store.take_transaction("1", "matrix", &events(&["$a", "$b", "$c"])).await.unwrap();
        assert_eq!(again, TxnOutcome::Repeated);

        let waiting = store.inbox_waiting("matrix", 10).await.unwrap();
        let ids: Vec<&str> = waiting.iter().map(|i| i.native_id.as_str()).collect();
        assert_eq!(ids, ["$a", "$b"]);
        assert_eq!(waiting[1].payload, r#"{"event_id":"$b"}"#);
        assert!(waiting[0].id < waiting[1].id);
        let age = chrono::Utc::now() - waiting[0].received_at;
        assert!(age < chrono::Duration::seconds(60), "{age}");
        assert_eq!(store.inbox_counts("matrix").await.unwrap(), (2, 0));
        // An empty transaction is taken too (and its ID remembered).
        let empty = store.take_transaction("2", "matrix", &[]).await.unwrap();
        assert_eq!(empty, TxnOutcome::Taken { stored: 0, known: 0 });
        assert_eq!(store.take_transaction("2", "matrix", &events(&["$z"])).await.unwrap(), TxnOutcome::Repeated);
        assert_eq!(store.inbox_counts("matrix").await.unwrap(), (2, 0));
    }
}

store_test! {
    /// An event already in the inbox (a redelivery in a new transaction) is not written twice;
    /// the new ones beside it are.
    async fn a_redelivered_event_is_kept_once(db) {
        let store = db.open().await;
        store.take_transaction("1", "matrix", &events(&["$a"])).await.unwrap();
        let second = store.take_transaction("2", "matrix", &events(&["$a", "$b"])).await.unwrap();
        assert_eq!(second, TxnOutcome::Taken { stored: 1, known: 1 });
        let ids: Vec<String> =
            store.inbox_waiting("matrix", 10).await.unwrap().into_iter().map(|i| i.native_id).collect();
        assert_eq!(ids, ["$a", "$b"]);
        // Another ingress has its own IDs.
        store.take_transaction("3", "other", &events(&["$a"])).await.unwrap();
        assert_eq!(store.inbox_counts("other").await.unwrap(), (1, 0));
        assert_eq!(store.inbox_counts("matrix").await.unwrap(), (2, 0));
    }
}

store_test! {
    /// Items marked done are no longer waiting, the others keep their order and the limit is
    /// honoured; everything survives closing and reopening the store.
    async fn done_items_leave_the_waiting_list_and_survive_a_reopen(db) {
        let store = db.open().await;
        store.take_transaction("1", "matrix", &events(&["$a", "$b", "$c"])).await.unwrap();
        let waiting = store.inbox_waiting("matrix", 2).await.unwrap();
        assert_eq!(waiting.len(), 2);
        store.inbox_done(waiting[0].id).await.unwrap();
        store.close().await;

        let store = db.open().await;
        let ids: Vec<String> =
            store.inbox_waiting("matrix", 10).await.unwrap().into_iter().map(|i| i.native_id).collect();
        assert_eq!(ids, ["$b", "$c"]);
        assert_eq!(store.inbox_counts("matrix").await.unwrap(), (2, 1));
        // The transaction ID is remembered across the reopen.
        assert_eq!(store.take_transaction("1", "matrix", &events(&["$d"])).await.unwrap(), TxnOutcome::Repeated);
        // A done event redelivered stays done.
        let again = store.take_transaction("9", "matrix", &events(&["$a"])).await.unwrap();
        assert_eq!(again, TxnOutcome::Taken { stored: 0, known: 1 });
        assert_eq!(store.inbox_counts("matrix").await.unwrap(), (2, 1));
        store.close().await;
    }
}
