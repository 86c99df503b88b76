//! The hand-off between instances (`relay_event`): an event kept once per key, read in order
//! per chat, done once; serialised events with their attachments; two stores on one database
//! acting as two instances.

use std::sync::Arc;

use bridge_core::{
    Incoming,
    handoff::{self, Wake},
    model::{Attachment, Content, Event, MemoryBlob, Message, MessageKind, Sender},
};

use super::*;

fn message(chat: &ChatRef, id: &str, text: &str) -> Incoming {
    Incoming {
        event: Event::Message(Message {
            origin: chat.msg(MsgId::new(id)),
            sender: Sender {
                id: UserId::new("alice"),
                name: "Alice".into(),
                avatar: None,
            },
            sent_at: DateTime::from_timestamp_millis(1_700_000_000_000).expect("time"),
            kind: MessageKind::Normal,
            content: Content::plain(text),
            reply_to: None,
            reactions: Vec::new(),
            edited: false,
        }),
        position: Some(id.into()),
        own: false,
    }
}

/// Puts `incoming` as the writer does: its key and its encoding.
async fn put(store: &MappingStore, incoming: Incoming) -> bool {
    let chat = incoming.event.subject().chat_ref();
    let key = handoff::event_key(&incoming);
    let payload = handoff::encode(incoming).await.expect("encode");
    store
        .put_relay_event(&chat, &key, &payload)
        .await
        .expect("put")
}

fn texts(events: &[bridge_core::store::RelayEvent]) -> Vec<String> {
    events
        .iter()
        .map(
            |e| match handoff::decode(&e.payload).expect("decode").event {
                Event::Message(m) => m.content.text,
                other => panic!("not a message: {other:?}"),
            },
        )
        .collect()
}

store_test! {
    /// An event handed over twice is kept once; a chat's events come back in order, only the
    /// chats asked for, up to the limit; done events no longer wait.
    async fn events_are_kept_once_in_order_until_done(db) {
        let store = db.open().await;
        assert!(put(&store, message(&kb(), "1", "one")).await);
        assert!(put(&store, message(&mx(), "$a", "matrix")).await);
        assert!(put(&store, message(&kb(), "2", "two")).await);
        // A redelivery (a catch-up reading it again): nothing written.
        assert!(!put(&store, message(&kb(), "1", "one again")).await);
        assert!(put(&store, message(&kb(), "3", "three")).await);

        let kb_only = store.relay_events_waiting(&[kb()], 10).await.unwrap();
        assert_eq!(texts(&kb_only), ["one", "two", "three"]);
        assert!(kb_only.windows(2).all(|w| w[0].id < w[1].id));
        assert!(kb_only.iter().all(|e| e.chat == kb()));
        let both = store.relay_events_waiting(&[kb(), mx()], 10).await.unwrap();
        assert_eq!(texts(&both), ["one", "matrix", "two", "three"]);
        assert_eq!(texts(&store.relay_events_waiting(&[kb(), mx()], 2).await.unwrap()), ["one", "matrix"]);
        assert!(store.relay_events_waiting(&[dc()], 10).await.unwrap().is_empty());
        assert!(store.relay_events_waiting(&[], 10).await.unwrap().is_empty());

        store.relay_event_done(kb_only[0].id).await.unwrap();
        store.relay_event_done(kb_only[2].id).await.unwrap();
        assert_eq!(texts(&store.relay_events_waiting(&[kb()], 10).await.unwrap()), ["two"]);
        assert_eq!(store.relay_event_counts().await.unwrap(), (2, 2));
        // A done event is still recognised if handed over again, until pruned.
        assert!(!put(&store, message(&kb(), "1", "one")).await);
        let pruned = store
            .prune_relay_events(chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(pruned, 2, "only the done ones");
        assert_eq!(store.relay_event_counts().await.unwrap(), (2, 0));
    }
}

store_test! {
    /// An event goes through the hand-off whole: attachments with their bytes (read into
    /// memory first), an unavailable one with why; edits and reactions keep their fields.
    async fn events_survive_the_hand_off_whole(db) {
        let store = db.open().await;
        let mut incoming = message(&kb(), "7", "see attached");
        if let Event::Message(m) = &mut incoming.event {
            m.content.attachments = vec![
                Attachment {
                    name: "a.bin".into(),
                    mime: Some("application/octet-stream".into()),
                    size: Some(3),
                    dimensions: Some((1, 2)),
                    data: Arc::new(MemoryBlob(vec![0, 1, 255])),
                },
                Attachment::unavailable("gone.png", Some(10), "it is missing"),
            ];
        }
        assert!(put(&store, incoming).await);
        let react = Incoming {
            event: Event::ReactionAdded {
                target: kb().msg(MsgId::new("7")),
                sender: Sender { id: UserId::new("bob"), name: "Bob".into(), avatar: None },
                emoji: "👍".into(),
                id: Some(MsgId::new("8")),
            },
            position: Some("8".into()),
            own: true,
        };
        assert!(put(&store, react.clone()).await);
        assert!(!put(&store, react).await, "the same reaction again");

        let waiting = store.relay_events_waiting(&[kb()], 10).await.unwrap();
        assert_eq!(waiting.len(), 2);
        let first = handoff::decode(&waiting[0].payload).unwrap();
        assert_eq!(first.position.as_ref().map(|p| p.as_str()), Some("7"));
        let Event::Message(m) = first.event else { panic!("a message") };
        assert_eq!(m.origin, kb().msg(MsgId::new("7")));
        assert_eq!(m.sender.name, "Alice");
        assert_eq!(m.content.attachments.len(), 2);
        let a = &m.content.attachments[0];
        assert_eq!((a.name.as_str(), a.size, a.dimensions), ("a.bin", Some(3), Some((1, 2))));
        assert_eq!(a.data.read().await.unwrap(), [0, 1, 255]);
        assert_eq!(m.content.attachments[1].unavailable_reason(), Some("it is missing"));
        let second = handoff::decode(&waiting[1].payload).unwrap();
        assert!(second.own);
        let Event::ReactionAdded { emoji, id, sender, .. } = second.event else { panic!("a reaction") };
        assert_eq!((emoji.as_str(), id, sender.name.as_str()), ("👍", Some(MsgId::new("8")), "Bob"));
    }
}

store_test! {
    /// Two stores on one database are two instances: what one hands over the other reads and
    /// marks done, and the first sees it done. On PostgreSQL the other is woken by a
    /// notification.
    async fn two_instances_share_the_hand_off(db) {
        let a = db.open().await;
        let b = db.open().await;
        let wake = Wake::default();
        let mut woken = wake.subscribe();
        let stop = tokio_util::sync::CancellationToken::new();
        let listening = (db.backend == Backend::Postgres)
            .then(|| tokio::spawn(handoff::listen_notifications(db.url.clone(), wake.clone(), stop.clone())));
        if listening.is_some() {
            // LISTEN is issued on its own connection; hand over until one notification arrives.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let mut n = 0;
            loop {
                n += 1;
                put(&a, message(&kb(), &format!("w{n}"), "wake")).await;
                if tokio::time::timeout(Duration::from_millis(200), woken.changed()).await.is_ok() {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "no notification in 10 s");
            }
            for e in b.relay_events_waiting(&[kb()], 100).await.unwrap() {
                b.relay_event_done(e.id).await.unwrap();
            }
        }
        assert!(put(&a, message(&kb(), "1", "from a")).await);
        assert!(!put(&b, message(&kb(), "1", "from b, the same event")).await);
        let seen = b.relay_events_waiting(&[kb()], 10).await.unwrap();
        assert_eq!(texts(&seen), ["from a"]);
        b.relay_event_done(seen[0].id).await.unwrap();
        assert!(a.relay_events_waiting(&[kb()], 10).await.unwrap().is_empty());
        stop.cancel();
        if let Some(task) = listening {
            task.await.unwrap();
        }
        a.close().await;
        b.close().await;
    }
}
