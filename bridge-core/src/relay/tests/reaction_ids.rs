//! Reactions taken back by their own ID: a delete of the ID (Keybase, Matrix redactions), or a
//! `ReactionRemoved` that names it.

use super::*;
use crate::ids::MsgId;

/// `who`'s `emoji` on `target`, as its own message or event `id`.
fn react_as(target: &MsgRef, who: &str, emoji: &str, id: &str) -> Event {
    Event::ReactionAdded {
        target: target.clone(),
        sender: person(who),
        emoji: emoji.to_owned(),
        id: Some(MsgId::new(id)),
    }
}

fn reacts(sink: &FakeSink) -> usize {
    count(sink, |a| matches!(a, Action::React(..)))
}

fn unreacts(sink: &FakeSink) -> usize {
    count(sink, |a| matches!(a, Action::Unreact(..)))
}

#[tokio::test]
async fn a_delete_of_a_reactions_own_id_takes_it_back_like_an_unreaction() {
    let (w, mut leases, msg) = with_one_message().await;
    let reaction = react_as(&msg.origin, "alice", "👍", "r9");
    let added = w.relay.apply(&live(reaction.clone()), &mut leases).await;
    assert_eq!(added.unwrap(), Applied::Relayed(2));
    let delete = Event::Delete {
        target: kb().msg(MsgId::new("r9")),
        sender: None,
    };
    let removed = w.relay.apply(&live(delete.clone()), &mut leases).await;
    assert_eq!(removed.unwrap(), Applied::Relayed(2));
    let copy = w.discord.delivered()[0].id.clone();
    assert_eq!(
        w.discord.actions(),
        [
            Action::React(dc().chat, copy.clone(), "alice".into(), "👍".into()),
            Action::Unreact(dc().chat, copy, "👍".into(), Some(MsgId::new("r-0"))),
        ]
    );
    let Some(Action::Unreact(_, _, _, Some(annotation))) = w.matrix.actions().last().cloned()
    else {
        panic!("{:?}", w.matrix.actions());
    };
    assert_eq!(
        annotation.as_str(),
        "r-0",
        "the annotation it made, by its ID"
    );
    assert!(
        !w.store
            .is_tombstoned(&kb().msg(MsgId::new("r9")))
            .await
            .unwrap(),
        "a reaction is not a message deleted before it came"
    );

    // Both seen again (a catch-up overlap): nothing more happens.
    let replayed = w.relay.apply(&live(delete), &mut leases).await;
    assert_eq!(replayed.unwrap(), Applied::Superseded);
    let replayed = w.relay.apply(&live(reaction), &mut leases).await;
    assert_eq!(replayed.unwrap(), Applied::Superseded);
    assert_eq!((reacts(&w.discord), unreacts(&w.discord)), (1, 1));
    assert_eq!((reacts(&w.matrix), unreacts(&w.matrix)), (1, 1));
}

#[tokio::test]
async fn an_unreaction_naming_its_id_takes_back_that_reaction_and_no_later_one() {
    let (w, mut leases, msg) = with_one_message().await;
    let first = react_as(&msg.origin, "alice", "👍", "r1");
    w.relay.apply(&live(first), &mut leases).await.unwrap();
    // The source names the reaction only by its ID (a redaction says nothing of the emoji).
    let removal = Event::ReactionRemoved {
        target: msg.origin.clone(),
        sender: person("alice"),
        emoji: String::new(),
        id: Some(MsgId::new("r1")),
    };
    let removed = w.relay.apply(&live(removal.clone()), &mut leases).await;
    assert_eq!(removed.unwrap(), Applied::Relayed(2));
    assert_eq!((reacts(&w.matrix), unreacts(&w.matrix)), (1, 1));

    // Given again, as a new reaction; then the old removal is seen again.
    let second = react_as(&msg.origin, "alice", "👍", "r2");
    let again = w.relay.apply(&live(second), &mut leases).await;
    assert_eq!(again.unwrap(), Applied::Relayed(2));
    let replayed = w.relay.apply(&live(removal), &mut leases).await;
    assert_eq!(replayed.unwrap(), Applied::Superseded);
    assert_eq!(
        (reacts(&w.discord), unreacts(&w.discord)),
        (2, 1),
        "the new reaction stays"
    );
    assert_eq!((reacts(&w.matrix), unreacts(&w.matrix)), (2, 1));
}

#[tokio::test]
async fn a_reaction_taken_back_by_its_id_before_its_message_reaches_no_target() {
    let w = world().await;
    let msg = text_message(&kb(), 1, "hello");
    let relay = Running::start(w.relay);
    let added = relay
        .send(react_as(&msg.origin, "alice", "👍", "r5"), None)
        .await;
    let delete = Event::Delete {
        target: kb().msg(MsgId::new("r5")),
        sender: None,
    };
    let removed = relay.send(delete, None).await;
    let copied = relay.send(Event::Message(msg), None).await;
    relay.finish().await;

    assert_eq!(added.await.unwrap(), Applied::Superseded);
    assert_eq!(removed.await.unwrap(), Applied::Superseded);
    assert_eq!(copied.await.unwrap(), Applied::Relayed(2));
    assert!(w.discord.actions().is_empty() && w.matrix.actions().is_empty());
}
