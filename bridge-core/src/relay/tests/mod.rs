//! The relay engine with in-memory sinks and a real SQLite store in a temp folder.
//!
//! - here: messages, edits, deletes and reactions applied one by one, and the engine's order;
//! - `window.rs`: the reorder window (events before their message, given up, shutdown);
//! - `edits.rs`: edits that change a copy's number of text parts, and edits out of order;
//! - `reaction_ids.rs`: reactions taken back by their own ID.

mod edits;
mod reaction_ids;
mod window;

use std::{collections::BTreeMap, sync::Arc};

use chrono::{TimeZone, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::{
    adapter::Incoming,
    ids::{ChatRef, Cursor, MsgRef, Platform, UserId},
    model::{Content, Event, Sender},
    testing::{Action, FakeSink, Script, text_message},
};

struct World {
    _dir: tempfile::TempDir,
    store: MappingStore,
    relay: Relay,
    discord: Arc<FakeSink>,
    matrix: Arc<FakeSink>,
}

fn kb() -> ChatRef {
    ChatRef::new(Platform::Keybase, "acme#general")
}
fn dc() -> ChatRef {
    ChatRef::new(Platform::Discord, "100")
}
fn mx() -> ChatRef {
    ChatRef::new(Platform::Matrix, "!r:x")
}

/// A three-way link: Keybase, Discord (one shared reaction per emoji, messages in 2 parts),
/// Matrix (reactions per user).
async fn world() -> World {
    let discord = FakeSink::new(Platform::Discord).with_parts(|_| 2);
    world_with(discord, RelayOptions::default()).await
}

/// The three-way link of [`world`], with this Discord sink and these options.
async fn world_with(discord: FakeSink, options: RelayOptions) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("map.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let discord = Arc::new(discord);
    let matrix = Arc::new(FakeSink::new(Platform::Matrix).per_user_reactions());
    let keybase = Arc::new(FakeSink::new(Platform::Keybase));
    let mut sinks: BTreeMap<Platform, Arc<dyn Sink>> = BTreeMap::new();
    sinks.insert(Platform::Discord, discord.clone());
    sinks.insert(Platform::Matrix, matrix.clone());
    sinks.insert(Platform::Keybase, keybase);
    let router = Router::new(&[RelayLink {
        name: "general".into(),
        chats: vec![kb(), dc(), mx()],
    }])
    .unwrap();
    let relay = Relay::new(store.clone(), sinks, router, options);
    World {
        _dir: dir,
        store,
        relay,
        discord,
        matrix,
    }
}

fn live(event: Event) -> Incoming {
    Incoming {
        event,
        position: None,
        own: false,
    }
}

fn person(name: &str) -> Sender {
    Sender {
        id: UserId::new(name),
        name: name.to_owned(),
        avatar: None,
    }
}

fn react(target: MsgRef, who: &str, emoji: &str) -> Event {
    Event::ReactionAdded {
        target,
        sender: person(who),
        emoji: emoji.to_owned(),
        id: None,
    }
}

/// An edit of `target` by alice to `text`, made `at` seconds after a fixed time.
fn edit(target: &MsgRef, text: &str, at: i64) -> Event {
    Event::Edit {
        target: target.clone(),
        sender: person("alice"),
        content: Content::plain(text),
        at: Utc.timestamp_opt(1_700_000_000 + at, 0).unwrap(),
    }
}

/// How many of `sink`'s actions match `which`.
fn count(sink: &FakeSink, which: fn(&Action) -> bool) -> usize {
    sink.actions().iter().filter(|a| which(a)).count()
}

fn unreact(target: MsgRef, who: &str, emoji: &str) -> Event {
    Event::ReactionRemoved {
        target,
        sender: person(who),
        emoji: emoji.to_owned(),
        id: None,
    }
}

/// A relay running on a task of its own, fed through its queue.
struct Running {
    tx: mpsc::Sender<Queued>,
    shutdown: CancellationToken,
    run: tokio::task::JoinHandle<Result<(), RelayError>>,
}

impl Running {
    fn start(relay: Relay) -> Self {
        let (tx, rx) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(Arc::new(relay).run(rx, shutdown.clone()));
        Self { tx, shutdown, run }
    }

    /// Queues `event` (at live position `position`); returns the receiver of its answer.
    async fn send(
        &self,
        event: Event,
        position: Option<&str>,
    ) -> tokio::sync::oneshot::Receiver<Applied> {
        let (queued, answer) = Queued::acked(Incoming {
            event,
            position: position.map(Cursor::new),
            own: false,
        });
        self.tx.send(queued).await.unwrap();
        answer
    }

    /// Closes the queue and waits for the relay to finish what it has.
    async fn finish(self) {
        drop(self.tx);
        self.run.await.unwrap().unwrap();
    }
}

/// A world in which Keybase message 1 ("hello") has been relayed.
async fn with_one_message() -> (World, Leases, crate::model::Message) {
    let w = world().await;
    let mut leases = Leases::default();
    let msg = text_message(&kb(), 1, "hello");
    w.relay
        .apply(&live(Event::Message(msg.clone())), &mut leases)
        .await
        .unwrap();
    (w, leases, msg)
}

#[tokio::test]
async fn a_message_reaches_the_other_chats_once_and_its_copies_do_not_echo() {
    let w = world().await;
    let mut leases = Leases::default();
    let msg = text_message(&kb(), 1, "hello");
    let first = w
        .relay
        .apply(&live(Event::Message(msg.clone())), &mut leases)
        .await;
    assert_eq!(first.unwrap(), Applied::Relayed(2));
    // Seen again (a catch-up overlapping the listener): nothing sent twice.
    w.relay
        .apply(&live(Event::Message(msg.clone())), &mut leases)
        .await
        .unwrap();
    assert_eq!(w.discord.delivered().len(), 2, "two parts, once");
    assert_eq!(w.matrix.delivered().len(), 1);

    // The copy on Matrix comes back through Matrix's live source: an echo.
    let copy_id = w.matrix.delivered()[0].id.clone();
    let mut echoed = text_message(&mx(), 0, "hello");
    echoed.origin = mx().msg(copy_id);
    let echo = w
        .relay
        .apply(&live(Event::Message(echoed)), &mut leases)
        .await;
    assert_eq!(echo.unwrap(), Applied::Echo);
    // So is anything its source marks as kbbridge's own.
    let own = Incoming {
        own: true,
        ..live(Event::Message(text_message(&dc(), 5, "from the webhook")))
    };
    assert_eq!(
        w.relay.apply(&own, &mut leases).await.unwrap(),
        Applied::Echo
    );
    assert_eq!(w.discord.delivered().len() + w.matrix.delivered().len(), 3);
}

#[tokio::test]
async fn edits_and_deletes_follow_their_message_exactly_once() {
    let (w, mut leases, msg) = with_one_message().await;
    let edit = Event::Edit {
        target: msg.origin.clone(),
        sender: person("alice"),
        content: Content {
            text: "hello, edited".into(),
            ..msg.content.clone()
        },
        at: Utc.timestamp_opt(1_700_000_100, 0).unwrap(),
    };
    for _ in 0..2 {
        let applied = w
            .relay
            .apply(&live(edit.clone()), &mut leases)
            .await
            .unwrap();
        assert_eq!(applied, Applied::Relayed(2));
    }
    let delete = Event::Delete {
        target: msg.origin.clone(),
        sender: None,
    };
    for _ in 0..2 {
        w.relay
            .apply(&live(delete.clone()), &mut leases)
            .await
            .unwrap();
    }
    let d = w.discord.delivered();
    let chat = dc().chat;
    assert_eq!(
        w.discord.actions(),
        [
            Action::Edit(chat.clone(), d[0].id.clone(), "hello, edited".into()),
            // Every part, the last first.
            Action::Delete(chat.clone(), d[1].id.clone()),
            Action::Delete(chat, d[0].id.clone()),
        ]
    );
    assert_eq!(w.matrix.actions().len(), 2, "one edit, one delete");
}

#[tokio::test]
async fn a_delete_that_overtakes_its_message_leaves_a_tombstone() {
    let w = world().await;
    let mut leases = Leases::default();
    let msg = text_message(&kb(), 7, "gone before it came");
    let delete = Event::Delete {
        target: msg.origin.clone(),
        sender: None,
    };
    w.relay.apply(&live(delete), &mut leases).await.unwrap();
    let late = w.relay.apply(&live(Event::Message(msg)), &mut leases).await;
    assert_eq!(late.unwrap(), Applied::Tombstoned);
    assert!(w.discord.delivered().is_empty() && w.matrix.delivered().is_empty());
}

#[tokio::test]
async fn a_delete_reaches_a_copy_whose_send_a_crash_interrupted() {
    let w = world().await;
    let mut leases = Leases::default();
    let msg = text_message(&kb(), 7, "sent, then the answer lost");
    // Matrix gets the message, but the answer is lost (kbbridge killed): its part stays
    // pending, and the message, deleted at its source meanwhile, never comes again.
    w.matrix.script(
        "7",
        0,
        Script::DeliverThenFail(AdapterError::fatal("killed")),
    );
    let crashed = w
        .relay
        .apply(&live(Event::Message(msg.clone())), &mut leases)
        .await;
    assert!(crashed.is_err());
    let delete = Event::Delete {
        target: msg.origin.clone(),
        sender: None,
    };
    let applied = w.relay.apply(&live(delete), &mut leases).await.unwrap();
    assert_eq!(applied, Applied::Relayed(2));
    let copy = w.matrix.delivered()[0].id.clone();
    assert_eq!(w.matrix.actions(), [Action::Delete(mx().chat, copy)]);
    assert_eq!(w.discord.actions().len(), 2, "both Discord parts deleted");
}

#[tokio::test]
async fn shared_reactions_are_counted_and_per_user_ones_are_not() {
    let (w, mut leases, msg) = with_one_message().await;
    let target = msg.origin.clone();
    for who in ["alice", "bob"] {
        w.relay
            .apply(&live(react(target.clone(), who, "👍")), &mut leases)
            .await
            .unwrap();
    }
    // Seen twice: counted once.
    w.relay
        .apply(&live(react(target.clone(), "bob", "👍")), &mut leases)
        .await
        .unwrap();
    w.relay
        .apply(&live(unreact(target.clone(), "alice", "👍")), &mut leases)
        .await
        .unwrap();
    let reacts = |s: &FakeSink| count(s, |a| matches!(a, Action::React(..)));
    let unreacts = |s: &FakeSink| count(s, |a| matches!(a, Action::Unreact(..)));
    // Discord (shared): one reaction for both users, still there while bob keeps his.
    assert_eq!((reacts(&w.discord), unreacts(&w.discord)), (1, 0));
    // Matrix (per user): one annotation each; alice's taken back by its own ID.
    assert_eq!((reacts(&w.matrix), unreacts(&w.matrix)), (2, 1));
    let Some(Action::Unreact(_, _, _, Some(id))) = w.matrix.actions().last().cloned() else {
        panic!("{:?}", w.matrix.actions());
    };
    assert_eq!(
        id.as_str(),
        "r-0",
        "alice's own annotation (her reaction came first)"
    );
    w.relay
        .apply(&live(unreact(target.clone(), "bob", "👍")), &mut leases)
        .await
        .unwrap();
    assert_eq!(unreacts(&w.discord), 1, "taken back with the last user");
    // Given again after being taken back: made again.
    w.relay
        .apply(&live(react(target, "alice", "👍")), &mut leases)
        .await
        .unwrap();
    assert_eq!((reacts(&w.discord), reacts(&w.matrix)), (2, 3));
}

#[tokio::test]
async fn a_reaction_on_a_copy_goes_to_the_origin_and_the_other_copies() {
    let (w, mut leases, _) = with_one_message().await;
    // A Matrix user reacts to the ghost's message (the copy).
    let copy = mx().msg(w.matrix.delivered()[0].id.clone());
    let applied = w
        .relay
        .apply(&live(react(copy, "@carol:x", "🎉")), &mut leases)
        .await
        .unwrap();
    assert_eq!(
        applied,
        Applied::Relayed(2),
        "Keybase (the origin) and Discord"
    );
    let on_discord = w.discord.actions();
    assert_eq!(
        on_discord,
        [Action::React(
            dc().chat,
            w.discord.delivered()[0].id.clone(),
            "@carol:x".into(),
            "🎉".into()
        )]
    );
}

#[tokio::test]
async fn the_engine_keeps_each_chats_order_and_saves_its_position() {
    let w = world().await;
    let relay = Arc::new(w.relay);
    let (tx, rx) = mpsc::channel(8);
    let run = tokio::spawn(Arc::clone(&relay).run(rx, CancellationToken::new()));
    let mut answers = Vec::new();
    for i in 1..=20 {
        let msg = text_message(&kb(), i, &format!("m{i}"));
        let (queued, answer) = Queued::acked(Incoming {
            event: Event::Message(msg),
            position: Some(Cursor::new(i.to_string())),
            own: false,
        });
        tx.send(queued).await.unwrap();
        answers.push(answer);
    }
    drop(tx);
    run.await.unwrap().unwrap();
    for answer in answers {
        assert_eq!(
            answer.await.unwrap(),
            Applied::Relayed(2),
            "each event answered once applied"
        );
    }
    let order: Vec<String> = w
        .matrix
        .delivered()
        .iter()
        .map(|d| d.origin.msg.to_string())
        .collect();
    let expected: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    assert_eq!(order, expected);
    assert_eq!(
        w.store.live_position(&kb()).await.unwrap(),
        Some(Cursor::new("20"))
    );
}
