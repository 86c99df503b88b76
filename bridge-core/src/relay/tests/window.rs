//! The reorder window: edits and reactions that come before their message.

use std::time::{Duration, Instant};

use tokio::sync::oneshot::error::TryRecvError;

use super::*;
use crate::ids::MsgId;

#[tokio::test]
async fn an_edit_and_a_reaction_before_their_message_follow_it_in_arrival_order() {
    let w = world().await;
    let msg = text_message(&kb(), 1, "hello");
    let relay = Running::start(w.relay);
    let edited = relay
        .send(edit(&msg.origin, "hello, edited", 100), Some("1"))
        .await;
    let reacted = relay
        .send(react(msg.origin.clone(), "bob", "👍"), Some("2"))
        .await;
    let copied = relay.send(Event::Message(msg), Some("3")).await;
    relay.finish().await;

    assert_eq!(copied.await.unwrap(), Applied::Relayed(2));
    assert_eq!(
        edited.await.unwrap(),
        Applied::Relayed(2),
        "applied after it"
    );
    assert_eq!(reacted.await.unwrap(), Applied::Relayed(2));
    let first = w.discord.delivered()[0].id.clone();
    assert_eq!(
        w.discord.actions(),
        [
            Action::Edit(dc().chat, first.clone(), "hello, edited".into()),
            Action::React(dc().chat, first, "bob".into(), "👍".into()),
        ]
    );
    assert_eq!(
        w.store.live_position(&kb()).await.unwrap(),
        Some(Cursor::new("3"))
    );
}

#[tokio::test]
async fn a_held_event_does_not_hold_up_its_chat_and_is_given_up_when_its_message_never_comes() {
    let window = Duration::from_secs(2);
    let options = RelayOptions {
        reorder_window: window,
        ..RelayOptions::default()
    };
    let w = world_with(FakeSink::new(Platform::Discord), options).await;
    let start = Instant::now();
    let relay = Running::start(w.relay);
    let never = kb().msg(MsgId::new("9"));
    let mut reacted = relay.send(react(never, "bob", "👍"), Some("1")).await;
    let copied = relay
        .send(
            Event::Message(text_message(&kb(), 2, "meanwhile")),
            Some("2"),
        )
        .await;

    assert_eq!(copied.await.unwrap(), Applied::Relayed(2));
    assert!(start.elapsed() < window, "the next event did not wait");
    assert_eq!(reacted.try_recv(), Err(TryRecvError::Empty), "still held");
    assert_eq!(
        w.store.live_position(&kb()).await.unwrap(),
        None,
        "a restart must not skip the held reaction"
    );

    assert_eq!(reacted.await.unwrap(), Applied::GaveUp);
    assert!(start.elapsed() >= window);
    relay.finish().await;
    assert_eq!(
        w.store.live_position(&kb()).await.unwrap(),
        Some(Cursor::new("2"))
    );
    assert!(w.discord.actions().is_empty() && w.matrix.actions().is_empty());
}

#[tokio::test]
async fn a_delete_before_its_message_answers_what_waits_for_it() {
    let w = world().await;
    let msg = text_message(&kb(), 7, "gone before it came");
    let relay = Running::start(w.relay);
    let edited = relay.send(edit(&msg.origin, "edited", 100), None).await;
    let delete = Event::Delete {
        target: msg.origin.clone(),
        sender: None,
    };
    let deleted = relay.send(delete, None).await;
    let late = relay.send(Event::Message(msg), None).await;
    relay.finish().await;

    assert_eq!(edited.await.unwrap(), Applied::Tombstoned);
    assert_eq!(deleted.await.unwrap(), Applied::Relayed(0));
    assert_eq!(late.await.unwrap(), Applied::Tombstoned);
    assert!(w.discord.delivered().is_empty() && w.discord.actions().is_empty());
    assert!(w.matrix.delivered().is_empty() && w.matrix.actions().is_empty());
}

#[tokio::test]
async fn on_shutdown_held_events_are_dropped_unanswered_and_their_position_is_not_saved() {
    let w = world().await;
    let relay = Running::start(w.relay);
    let first = relay
        .send(Event::Message(text_message(&kb(), 1, "hello")), Some("1"))
        .await;
    assert_eq!(first.await.unwrap(), Applied::Relayed(2));
    let held = relay
        .send(react(kb().msg(MsgId::new("9")), "bob", "👍"), Some("2"))
        .await;
    let later = relay
        .send(Event::Message(text_message(&kb(), 3, "later")), Some("3"))
        .await;
    assert_eq!(later.await.unwrap(), Applied::Relayed(2));

    relay.shutdown.cancel();
    relay.run.await.unwrap().unwrap();
    assert!(held.await.is_err(), "unanswered: the source replays it");
    assert_eq!(
        w.store.live_position(&kb()).await.unwrap(),
        Some(Cursor::new("1")),
        "a restart catches up from before the held reaction"
    );
}

#[tokio::test]
async fn edits_held_out_of_order_end_with_the_newest_text() {
    let w = world().await;
    let msg = text_message(&kb(), 1, "hello");
    let relay = Running::start(w.relay);
    let newer = relay.send(edit(&msg.origin, "second", 200), None).await;
    let older = relay.send(edit(&msg.origin, "first", 100), None).await;
    let copied = relay.send(Event::Message(msg), None).await;
    relay.finish().await;

    assert_eq!(copied.await.unwrap(), Applied::Relayed(2));
    assert_eq!(newer.await.unwrap(), Applied::Relayed(2));
    assert_eq!(older.await.unwrap(), Applied::Superseded);
    let first = w.discord.delivered()[0].id.clone();
    assert_eq!(
        w.discord.actions(),
        [Action::Edit(dc().chat, first, "second".into())]
    );
}
