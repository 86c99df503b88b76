//! The appservice's receiving side and the sink's live abilities, against a real Synapse whose
//! registration points at the test's listener (`testing::pushing`): a real user's messages,
//! edits, reactions and redactions reach the inbox once and convert right, kbbridge's own
//! events do not; a wrong hs_token changes nothing; what the homeserver queued while kbbridge
//! was down arrives once the listener is up and has pinged.
//!
//! The tests that use the pushing homeserver run one at a time (it has one queue for the
//! appservice, and one listening address).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use adapter_matrix::{
    MatrixClient, MatrixSink,
    appservice::{
        self, BODY_LIMIT, Filter, INGRESS, Inbox, KnownRooms, Listening, Ours, Pushed, Receiver,
    },
    testing::{
        ReadBack,
        pushing::{Human, Pushing, pushing},
        segment, unique_prefix,
    },
};
use bridge_core::{
    ChatId, ChatInfo, ChatKind, ChatRef, Content, Event, MappingStore, MessageKind, Mode, MsgId,
    Outgoing, Platform, Secret, Sender, Sink, Syntax, UserId, testing::text_message,
};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::Mutex};

/// One test at a time on the pushing homeserver.
static PUSHING: Mutex<()> = Mutex::const_new(());

/// How long an event may take to reach the inbox.
const ARRIVAL: Duration = Duration::from_secs(60);

struct Env {
    _dir: TempDir,
    store: MappingStore,
    sink: Arc<MatrixSink>,
    client: Arc<MatrixClient>,
    config: adapter_matrix::config::MatrixConfig,
    rooms: KnownRooms,
    room: ChatId,
    human: Human,
    read: ReadBack,
    /// The ghost message kbbridge sent into the room (backfill).
    ghost_msg: MsgId,
}

fn sender(name: &str) -> Sender {
    Sender {
        id: UserId::new(name),
        name: name.into(),
        avatar: None,
    }
}

/// A room kbbridge made, known to the listener, with a human in it and one ghost message;
/// the listener is running (it is returned) and every event so far has been delivered.
async fn env(p: &'static Pushing) -> (Env, Listening) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let prefix = unique_prefix();
    let name = format!(
        "human{}",
        prefix.trim_start_matches("kb_").trim_end_matches('_')
    );
    let human = p.synapse.human(&name).await.unwrap();
    let mut config = p.synapse.config(&prefix);
    config.hs_token = Secret::new(p.hs_token.clone());
    config.listen = p.listen;
    config.users = BTreeMap::from([(name.clone(), human.user_id.clone())]);
    let sink = Arc::new(MatrixSink::new(&config, store.clone()).unwrap());
    let client = Arc::new(
        MatrixClient::new(
            &p.synapse.url,
            &p.synapse.server_name,
            Secret::new(p.synapse.as_token.clone()),
            &p.synapse.bot_localpart,
        )
        .unwrap(),
    );
    let rooms = KnownRooms::default();
    // Up before the room is made, so the homeserver never finds the appservice down.
    let listening = appservice::start(&config, &client, store.clone(), rooms.clone())
        .await
        .unwrap();
    let info = ChatInfo {
        chat: ChatRef::new(Platform::Keybase, format!("{prefix}team#general")),
        name: "general".into(),
        topic: None,
        path: Vec::new(),
        kind: ChatKind::Channel,
    };
    let room = sink.resolve_chat(&info, None).await.unwrap();
    rooms.insert(&room);
    human.join(room.as_str()).await.unwrap();
    let msg = text_message(&info.chat, 1, "from keybase");
    let ghost_msg = sink
        .send(
            &room,
            Outgoing {
                msg: &msg,
                part: 0,
                reply_to: None,
                earlier: &[],
                mode: Mode::Backfill,
            },
        )
        .await
        .unwrap();
    let env = Env {
        _dir: dir,
        store,
        sink,
        client,
        config,
        rooms,
        room,
        human,
        read: p.synapse.read_back(),
        ghost_msg,
    };
    // Everything so far has been pushed once this arrives.
    let ready = env.say("ready").await;
    env.wait_for(&ready).await;
    let waiting = env.store.inbox_waiting(INGRESS, 100).await.unwrap();
    for item in waiting {
        env.store.inbox_done(item.id).await.unwrap();
    }
    (env, listening)
}

impl Env {
    async fn say(&self, text: &str) -> String {
        self.human
            .send(
                self.room.as_str(),
                "m.room.message",
                json!({"msgtype": "m.text", "body": text}),
            )
            .await
            .unwrap()
    }

    /// Waits until `event` is in the inbox.
    async fn wait_for(&self, event: &str) {
        let started = Instant::now();
        loop {
            let items = self.store.inbox_waiting(INGRESS, 1000).await.unwrap();
            if items.iter().any(|i| i.native_id == event) {
                return;
            }
            assert!(
                started.elapsed() < ARRIVAL,
                "{event} did not arrive within {ARRIVAL:?}; inbox: {items:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn inbox(&self) -> Inbox {
        let ours = Ours::new(self.client.bot().to_owned(), &self.config.ghost_prefix);
        Inbox::new(self.store.clone(), Arc::clone(&self.client), ours)
    }

    async fn event(&self, id: &str) -> Value {
        self.read
            .get(&format!(
                "/_matrix/client/v3/rooms/{}/event/{}",
                segment(self.room.as_str()),
                segment(id)
            ))
            .await
            .unwrap()
    }

    fn ghost(&self, name: &str) -> String {
        format!(
            "@{}{name}:{}",
            self.config.ghost_prefix,
            pushing().synapse.server_name
        )
    }
}

/// A human posts, replies, edits, reacts, takes the reaction back, sends a file, a notice and
/// an emote; kbbridge meanwhile edits, reacts and redacts as its ghosts. The inbox holds
/// exactly the human's events, once each, in order, and they convert to the right core events.
#[tokio::test]
async fn a_real_users_events_arrive_once_and_convert_and_kbbridges_own_do_not() {
    let _one = PUSHING.lock().await;
    let (env, listening) = env(pushing()).await;
    let room = env.room.as_str();
    let h = &env.human;
    let ghost_msg = env.ghost_msg.as_str();

    let text = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "hello **world**",
                "format": "org.matrix.custom.html", "formatted_body": "hello <b>world</b>",
            }),
        )
        .await
        .unwrap();
    let reply = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("> <{}> from keybase\n\nyes indeed", env.ghost("alice")),
                "m.relates_to": { "m.in_reply_to": { "event_id": ghost_msg } },
            }),
        )
        .await
        .unwrap();
    // kbbridge's own, in between: an edit of its ghost's message, a ghost's reaction.
    env.sink
        .edit(
            &env.room,
            &env.ghost_msg,
            &sender("alice"),
            &Content::plain("from keybase, edited"),
        )
        .await
        .unwrap();
    let ghost_reaction = env
        .sink
        .react(
            &env.room,
            &MsgId::new(text.as_str()),
            &sender("bob"),
            ":+1:",
        )
        .await
        .unwrap()
        .expect("an annotation ID");
    let edit = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "* hello again",
                "m.new_content": { "msgtype": "m.text", "body": "hello again" },
                "m.relates_to": { "rel_type": "m.replace", "event_id": text },
            }),
        )
        .await
        .unwrap();
    let reaction = h
        .send(
            room,
            "m.reaction",
            json!({
                "m.relates_to": { "rel_type": "m.annotation", "event_id": ghost_msg, "key": "👍" },
            }),
        )
        .await
        .unwrap();
    let unreaction = h.redact(room, &reaction).await.unwrap();
    env.sink.delete(&env.room, &ghost_reaction).await.unwrap();
    let bytes = b"line one\nline two\n".to_vec();
    let mxc = h
        .upload("notes.txt", "text/plain", bytes.clone())
        .await
        .unwrap();
    let file = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.file", "body": "the notes", "filename": "notes.txt", "url": mxc,
                "info": { "mimetype": "text/plain", "size": bytes.len() },
            }),
        )
        .await
        .unwrap();
    let notice = h
        .send(
            room,
            "m.room.message",
            json!({"msgtype": "m.notice", "body": "fyi"}),
        )
        .await
        .unwrap();
    let emote = h
        .send(
            room,
            "m.room.message",
            json!({"msgtype": "m.emote", "body": "waves"}),
        )
        .await
        .unwrap();
    env.wait_for(&emote).await;

    let waiting = env.inbox().waiting(100).await.unwrap();
    let ids: Vec<String> = waiting
        .iter()
        .map(|w| match &w.event {
            Ok(i) => i.event_id.to_string(),
            Err(skip) => panic!("item {} not converted: {skip}", w.id),
        })
        .collect();
    assert_eq!(
        ids,
        [
            text.clone(),
            reply,
            edit,
            reaction.clone(),
            unreaction,
            file,
            notice,
            emote.clone()
        ],
        "exactly the human's events, once, in order"
    );
    // (The set-up's "ready" is done already.)
    assert_eq!(env.store.inbox_counts(INGRESS).await.unwrap(), (8, 1));
    let events: Vec<&Pushed> = waiting
        .iter()
        .filter_map(|w| w.event.as_ref().ok())
        .collect();
    let chat = ChatRef::new(Platform::Matrix, room);
    let me = UserId::new(h.user_id.as_str());

    let Event::Message(m) = events[0].event() else {
        panic!("{:?}", events[0])
    };
    assert_eq!(m.origin, chat.msg(text.as_str()));
    assert_eq!(m.sender.id, me);
    assert_eq!(m.content.text, "hello **world**");
    assert_eq!(
        m.content.syntax,
        Syntax::MatrixHtml("hello <b>world</b>".into())
    );
    assert_eq!(m.kind, MessageKind::Normal);
    assert!(
        (chrono::Utc::now() - m.sent_at).num_seconds() < 300,
        "{}",
        m.sent_at
    );

    let Event::Message(m) = events[1].event() else {
        panic!("{:?}", events[1])
    };
    assert_eq!(m.reply_to, Some(env.ghost_msg.clone()));
    assert_eq!(m.content.text, "yes indeed", "the reply fallback is gone");

    let Event::Edit {
        target,
        sender,
        content,
        ..
    } = events[2].event()
    else {
        panic!("{:?}", events[2])
    };
    assert_eq!((target, &sender.id), (&chat.msg(text.as_str()), &me));
    assert_eq!(content.text, "hello again");

    let Event::ReactionAdded {
        target,
        sender,
        emoji,
        id,
    } = events[3].event()
    else {
        panic!("{:?}", events[3])
    };
    assert_eq!(
        (target, &sender.id, emoji.as_str()),
        (&chat.msg(ghost_msg), &me, "👍")
    );
    assert_eq!(
        id.as_ref().map(MsgId::as_str),
        Some(reaction.as_str()),
        "the annotation's own ID is kept"
    );
    assert_eq!(events[3].event_id.as_str(), reaction);

    let Event::Delete { target, sender } = events[4].event() else {
        panic!("{:?}", events[4])
    };
    assert_eq!(
        target,
        &chat.msg(reaction.as_str()),
        "the redaction names the reaction"
    );
    assert_eq!(sender.as_ref().map(|s| &s.id), Some(&me));

    let Event::Message(m) = events[5].event() else {
        panic!("{:?}", events[5])
    };
    assert_eq!(m.content.text, "the notes", "the caption");
    let [a] = m.content.attachments.as_slice() else {
        panic!("{:?}", m.content)
    };
    assert_eq!(
        (a.name.as_str(), a.mime.as_deref(), a.size),
        ("notes.txt", Some("text/plain"), Some(bytes.len() as u64))
    );
    assert_eq!(
        a.data.read().await.unwrap(),
        bytes,
        "downloaded from the homeserver"
    );

    let Event::Message(m) = events[6].event() else {
        panic!("{:?}", events[6])
    };
    assert_eq!(
        (m.kind, m.content.text.as_str()),
        (MessageKind::Notice, "fyi")
    );
    let Event::Message(m) = events[7].event() else {
        panic!("{:?}", events[7])
    };
    assert!(
        m.content.text.starts_with("* human") && m.content.text.ends_with(" waves"),
        "{}",
        m.content.text
    );

    // Handled items leave the waiting list.
    for w in &waiting {
        env.inbox().done(w.id).await.unwrap();
    }
    assert_eq!(env.store.inbox_counts(INGRESS).await.unwrap(), (0, 9));
    listening.stop().await;
}

/// The sink's live abilities, read back from the homeserver: an edit is an `m.replace` by the
/// ghost that sent the original; a reaction is an annotation by the reacting user's ghost
/// whose event ID is returned (and found again when made twice); a delete redacts, twice
/// without harm; events kbbridge did not send are not changed.
#[tokio::test]
async fn the_sink_edits_reacts_and_redacts_as_the_right_ghost() {
    let _one = PUSHING.lock().await;
    let (env, listening) = env(pushing()).await;
    env.sink
        .edit(
            &env.room,
            &env.ghost_msg,
            &sender("alice"),
            &Content::plain("edited *now*"),
        )
        .await
        .unwrap();
    let events = env.read.messages(env.room.as_str()).await.unwrap();
    let edit = events
        .iter()
        .find(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .expect("an edit event");
    let original = env.event(env.ghost_msg.as_str()).await;
    assert_eq!(
        edit["sender"], original["sender"],
        "sent by the original's ghost"
    );
    assert_eq!(original["sender"], env.ghost("alice"));
    assert_eq!(
        edit["content"]["m.relates_to"]["event_id"],
        env.ghost_msg.as_str()
    );
    assert_eq!(edit["content"]["m.new_content"]["body"], "edited *now*");
    assert_eq!(edit["content"]["body"], "* edited *now*");
    assert_eq!(edit["content"]["m.mentions"], json!({}));

    let target = MsgId::new(env.say("react to me").await);
    let id = env
        .sink
        .react(&env.room, &target, &sender("carol"), ":tada:")
        .await
        .unwrap()
        .expect("the annotation's event ID");
    let annotation = env.event(id.as_str()).await;
    assert_eq!(annotation["type"], "m.reaction");
    assert_eq!(annotation["sender"], env.ghost("carol"));
    assert_eq!(
        annotation["content"]["m.relates_to"],
        json!({"rel_type": "m.annotation", "event_id": target.as_str(), "key": "🎉"})
    );
    let again = env
        .sink
        .react(&env.room, &target, &sender("carol"), ":tada:")
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(id.clone()),
        "the same reaction twice is the same annotation"
    );

    // Taken back by its ID: redacted by its ghost; again, without harm.
    let carol = sender("carol");
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", Some(&id))
        .await
        .unwrap();
    let gone = env.event(id.as_str()).await;
    assert!(gone["unsigned"]["redacted_because"].is_object(), "{gone}");
    assert_eq!(gone["content"], json!({}));
    assert_eq!(
        gone["unsigned"]["redacted_because"]["sender"],
        env.ghost("carol")
    );
    env.sink.delete(&env.room, &id).await.unwrap();
    // Given again after being taken back: a new annotation; taken back without its ID, it is
    // found by ghost and emoji.
    let anew = env
        .sink
        .react(&env.room, &target, &carol, ":tada:")
        .await
        .unwrap()
        .expect("an annotation ID");
    assert_ne!(anew, id);
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", None)
        .await
        .unwrap();
    let gone = env.event(anew.as_str()).await;
    assert!(gone["unsigned"]["redacted_because"].is_object(), "{gone}");
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", None)
        .await
        .unwrap();

    // The human's own message is not kbbridge's to change.
    let refused = env
        .sink
        .edit(&env.room, &target, &sender("alice"), &Content::plain("x"))
        .await;
    assert!(
        matches!(refused, Err(bridge_core::AdapterError::Rejected { .. })),
        "{refused:?}"
    );
    let refused = env.sink.delete(&env.room, &target).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(env.event(target.as_str()).await["content"]["body"] == "react to me");
    listening.stop().await;
}

/// While kbbridge is down (first answering with a wrong hs_token, then not listening at all),
/// the homeserver keeps the user's event: nothing reaches the inbox. Once the listener is up
/// and has pinged, the queued transaction arrives at once (long before the homeserver's next
/// scheduled retry), and only once.
#[tokio::test]
async fn what_the_homeserver_queued_while_down_arrives_after_the_ping() {
    let _one = PUSHING.lock().await;
    let p = pushing();
    let (env, listening) = env(p).await;
    listening.stop().await;

    // A listener with the wrong token: the homeserver's pushes get 403.
    let filter = Filter {
        ours: Ours::new(env.client.bot().to_owned(), &env.config.ghost_prefix),
        rooms: env.rooms.clone(),
    };
    let wrong = Arc::new(Receiver::new(
        env.store.clone(),
        filter,
        Secret::new("not-the-hs-token"),
    ));
    let wrong = Listening::start(TcpListener::bind(p.listen).await.unwrap(), wrong).unwrap();
    let posted = Instant::now();
    let queued = env.say("posted while kbbridge was down").await;
    // The push at once and the first retry (2 s later) are refused.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    wrong.stop().await;
    assert_eq!(
        env.store.inbox_counts(INGRESS).await.unwrap(),
        (0, 1),
        "nothing written"
    );
    // Not listening: the retry at 6 s fails too; the next is due 8 s later.
    tokio::time::sleep(Duration::from_millis(7000).saturating_sub(posted.elapsed())).await;

    let started = Instant::now();
    let listening = appservice::start(
        &env.config,
        &env.client,
        env.store.clone(),
        env.rooms.clone(),
    )
    .await
    .unwrap();
    env.wait_for(&queued).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "arrived {took:?} after the start: not sent by the ping (posted {:?} before)",
        started - posted
    );
    let waiting = env.store.inbox_waiting(INGRESS, 100).await.unwrap();
    let ids: Vec<&str> = waiting.iter().map(|i| i.native_id.as_str()).collect();
    assert_eq!(ids, [queued.as_str()], "once");
    listening.stop().await;
}

/// A transaction as Synapse sends it, with these events.
fn transaction(events: &[Value]) -> String {
    json!({ "events": events }).to_string()
}

fn message(id: &str, room: &str, sender: &str) -> Value {
    json!({
        "type": "m.room.message", "event_id": id, "room_id": room, "sender": sender,
        "origin_server_ts": 1_700_000_000_000_u64, "content": {"msgtype": "m.text", "body": id},
        "unsigned": {},
    })
}

/// Straight at the listener (no homeserver): the hs_token is required on every endpoint (401
/// without, 403 when wrong, and then nothing is written, not even the transaction's ID); a
/// transaction repeated, an event redelivered, kbbridge's own events, state events and
/// unknown rooms change nothing; the legacy query token works; the users and rooms queries
/// are 404; an oversized or unreadable body is refused and not recorded.
#[tokio::test]
async fn the_listener_checks_the_token_and_takes_each_transaction_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let rooms = KnownRooms::default();
    let room = "!known:localhost";
    rooms.insert(&ChatId::new(room));
    let bot = ruma::UserId::parse("@kbbridge:localhost").unwrap();
    let filter = Filter {
        ours: Ours::new(bot, "kb_"),
        rooms,
    };
    let receiver = Arc::new(Receiver::new(
        store.clone(),
        filter,
        Secret::new("right-token"),
    ));
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let listening = Listening::start(listener, receiver).unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();
    let put = |txn: &str, token: Option<&str>, body: String| {
        let mut r = http
            .put(format!("{base}/_matrix/app/v1/transactions/{txn}"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    };
    let status = |r: reqwest::Response| async move {
        let s = r.status().as_u16();
        let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null);
        (s, body)
    };
    let one = transaction(&[message("$one", room, "@human:localhost")]);

    let (s, b) = status(
        put("1", Some("wrong-token"), one.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (s, b) = status(put("1", None, one.clone()).send().await.unwrap()).await;
    assert_eq!((s, b["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
    assert_eq!(store.inbox_counts(INGRESS).await.unwrap(), (0, 0));

    // The same transaction ID, now with the token: taken (the refusals recorded nothing).
    let (s, b) = status(
        put("1", Some("right-token"), one.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b), (200, json!({})));
    // Again, whatever it carries: 200, no effect.
    let other = transaction(&[message("$other", room, "@human:localhost")]);
    let (s, b) = status(put("1", Some("right-token"), other).send().await.unwrap()).await;
    assert_eq!((s, b), (200, json!({})));
    let ids = |items: Vec<bridge_core::store::InboxItem>| -> Vec<String> {
        items.into_iter().map(|i| i.native_id).collect()
    };
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one"]
    );

    // A new transaction redelivering $one, with kbbridge's own, a state event, an unknown
    // room and one new event: only the new one is written.
    let mixed = transaction(&[
        message("$one", room, "@human:localhost"),
        message("$ghost", room, "@kb_alice:localhost"),
        message("$bot", room, "@kbbridge:localhost"),
        message("$elsewhere", "!unknown:localhost", "@human:localhost"),
        json!({"type": "m.room.member", "event_id": "$join", "room_id": room, "state_key": "@human:localhost",
               "sender": "@human:localhost", "origin_server_ts": 1, "content": {"membership": "join"}}),
        message("$two", room, "@human:localhost"),
    ]);
    let (s, _) = status(put("2", Some("right-token"), mixed).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one", "$two"]
    );

    // The legacy query token.
    let three = transaction(&[message("$three", room, "@human:localhost")]);
    let r = http
        .put(format!(
            "{base}/_matrix/app/v1/transactions/3?access_token=right-token"
        ))
        .header("content-type", "application/json")
        .body(three)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A full transaction (100 events of about 60 KiB, as Synapse may send) is well within the
    // limit: refusing one would hold up every later transaction.
    let big: Vec<Value> = (0..100)
        .map(|i| {
            let mut m = message(&format!("$big{i}"), room, "@human:localhost");
            m["content"]["body"] = json!("x".repeat(60_000));
            m
        })
        .collect();
    let (s, _) = status(
        put("big", Some("right-token"), transaction(&big))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(store.inbox_counts(INGRESS).await.unwrap(), (103, 0));
    for item in store.inbox_waiting(INGRESS, 200).await.unwrap() {
        if item.native_id.starts_with("$big") {
            store.inbox_done(item.id).await.unwrap();
        }
    }

    // Refused bodies record nothing, not even the transaction ID.
    let huge = format!(
        "{{\"events\": [], \"pad\": \"{}\"}}",
        " ".repeat(BODY_LIMIT)
    );
    let (s, _) = status(put("4", Some("right-token"), huge).send().await.unwrap()).await;
    assert_eq!(s, 413);
    let (s, b) = status(
        put("4", Some("right-token"), "{not json".into())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let four = transaction(&[message("$four", room, "@human:localhost")]);
    let (s, _) = status(put("4", Some("right-token"), four).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one", "$two", "$three", "$four"]
    );

    // The ping, the users and rooms queries, anything else.
    let (s, b) = status(
        http.post(format!("{base}/_matrix/app/v1/ping"))
            .bearer_auth("right-token")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b), (200, json!({})));
    let (s, _) = status(
        http.post(format!("{base}/_matrix/app/v1/ping"))
            .bearer_auth("nope")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    for path in ["users/@kb_x:localhost", "rooms/%23kb_x:localhost"] {
        let get = |t: &'static str| {
            http.get(format!("{base}/_matrix/app/v1/{path}"))
                .bearer_auth(t)
                .send()
        };
        let (s, b) = status(get("right-token").await.unwrap()).await;
        assert_eq!(
            (s, b["errcode"].as_str()),
            (404, Some("M_NOT_FOUND")),
            "{path}"
        );
        let (s, _) = status(get("nope").await.unwrap()).await;
        assert_eq!(s, 403, "{path}");
    }
    let (s, b) = status(http.get(format!("{base}/elsewhere")).send().await.unwrap()).await;
    assert_eq!((s, b["errcode"].as_str()), (404, Some("M_UNRECOGNIZED")));
    listening.stop().await;
}

/// Without an hs_token every transaction would be refused: kbbridge does not start listening,
/// and says what to set.
#[tokio::test]
async fn no_listener_without_an_hs_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let mut config = adapter_matrix::config::MatrixConfig {
        homeserver: Some("http://127.0.0.1:1".parse().unwrap()),
        server_name: Some("localhost".into()),
        ..Default::default()
    };
    config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let client = MatrixClient::new(
        config.homeserver.as_ref().unwrap(),
        "localhost",
        Secret::new("as"),
        "kbbridge",
    )
    .unwrap();
    let refused = appservice::start(&config, &client, store, KnownRooms::default()).await;
    let Err(e) = refused else {
        panic!("started without an hs_token")
    };
    assert!(e.to_string().contains("KBBRIDGE__MATRIX__HS_TOKEN"), "{e}");
}
