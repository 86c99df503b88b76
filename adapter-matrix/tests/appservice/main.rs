//! The appservice's receiving side and the sink's live abilities, against a real Synapse whose
//! registration points at the test's listener (`testing::pushing`): a real user's messages,
//! edits, reactions and redactions reach the inbox once and convert right, kbbridge's own
//! events do not; a wrong hs_token changes nothing; what the homeserver queued while kbbridge
//! was down arrives once the listener is up and has pinged.
//!
//! The tests that use the pushing homeserver run one at a time (it has one queue for the
//! appservice, and one listening address).
//!
//! - `events.rs`: a human's events into the inbox, converted; kbbridge's own left out.
//! - `sink.rs`: the sink's edits, reactions and redactions, read back.
//! - `downtime.rs`: the homeserver's queue while kbbridge is down, delivered after the ping.
//! - `listener.rs`: the listener alone: tokens, repeated transactions, limits.

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

    /// Starts the listener again (it pings the homeserver).
    async fn listen(&self) -> Listening {
        appservice::start(
            &self.config,
            &self.client,
            self.store.clone(),
            self.rooms.clone(),
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

mod downtime;
mod events;
mod listener;
mod sink;
