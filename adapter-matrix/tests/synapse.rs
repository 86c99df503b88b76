//! `MatrixSink` against a real Synapse (started by `tests/support/synapse`), read back over HTTP.

use std::{sync::Arc, time::Duration};

use adapter_matrix::{
    MatrixSink, SOURCE_KEY,
    testing::{ReadBack, Synapse, synapse, unique_prefix},
};
use bridge_core::{
    AdapterError, Attachment, ChatId, ChatInfo, ChatKind, ChatRef, Content, MappingStore, Message,
    MessageKind, Mode, MsgId, Outgoing, Platform, Reaction, Sender, Sink, Syntax, UserId,
    backfill::{Backfill, BackfillJob, BackfillOptions, Target},
    model::MemoryBlob,
    retry::RetryPolicy,
    testing::{FakeHistory, text_message},
};
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

struct Env {
    _dir: TempDir,
    store: MappingStore,
    sink: Arc<MatrixSink>,
    synapse: &'static Synapse,
    prefix: String,
    read: ReadBack,
}

async fn env() -> Env {
    let synapse = synapse();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let prefix = unique_prefix();
    let sink = Arc::new(MatrixSink::new(&synapse.config(&prefix), store.clone()).unwrap());
    Env {
        _dir: dir,
        store,
        sink,
        synapse,
        prefix,
        read: synapse.read_back(),
    }
}

fn info(chat: &str, name: &str, path: &[&str], kind: ChatKind) -> ChatInfo {
    ChatInfo {
        chat: ChatRef::new(Platform::Keybase, chat),
        name: name.into(),
        topic: Some(format!("the {name} headline")),
        path: path.iter().map(|s| s.to_string()).collect(),
        kind,
    }
}

fn sender(name: &str) -> Sender {
    Sender {
        id: UserId::new(name),
        name: name.into(),
        avatar: None,
    }
}

fn state_of<'a>(state: &'a [Value], kind: &str, key: &str) -> Option<&'a Value> {
    state
        .iter()
        .find(|e| e["type"] == kind && e["state_key"] == key)
        .map(|e| &e["content"])
}

#[tokio::test]
async fn teams_become_spaces_and_channels_rooms_once() {
    let env = env().await;
    let alerts = info(
        "acme.ops#alerts",
        "alerts",
        &["acme", "ops"],
        ChatKind::Channel,
    );
    let general = info("acme#general", "general", &["acme"], ChatKind::Channel);
    let room = env.sink.resolve_chat(&alerts, None).await.unwrap();
    let general_room = env.sink.resolve_chat(&general, None).await.unwrap();
    assert_eq!(
        env.sink.resolve_chat(&alerts, None).await.unwrap(),
        room,
        "reused on re-run"
    );

    let space = env
        .read
        .alias(&format!("#{}acme:{}", env.prefix, env.synapse.server_name))
        .await
        .unwrap();
    let sub = env
        .read
        .alias(&format!(
            "#{}acme.ops:{}",
            env.prefix, env.synapse.server_name
        ))
        .await
        .unwrap();
    let by_alias = env
        .read
        .alias(&format!(
            "#{}acme.ops-alerts:{}",
            env.prefix, env.synapse.server_name
        ))
        .await
        .unwrap();
    assert_eq!(by_alias, room.as_str());

    let room_state = env.read.state(room.as_str()).await.unwrap();
    assert_eq!(
        state_of(&room_state, "m.room.name", "").unwrap()["name"],
        "alerts"
    );
    assert_eq!(
        state_of(&room_state, "m.room.topic", "").unwrap()["topic"],
        "the alerts headline"
    );
    assert!(state_of(&room_state, "m.space.parent", &sub).is_some());
    assert_eq!(
        state_of(&room_state, "m.room.join_rules", "").unwrap()["join_rule"],
        "restricted"
    );
    let sub_state = env.read.state(&sub).await.unwrap();
    assert_eq!(
        state_of(&sub_state, "m.room.create", "").unwrap()["type"],
        "m.space"
    );
    assert!(state_of(&sub_state, "m.space.child", room.as_str()).is_some());
    assert!(state_of(&sub_state, "m.space.parent", &space).is_some());

    let tree: Vec<String> = env
        .read
        .hierarchy(&space)
        .await
        .unwrap()
        .iter()
        .map(|r| r["room_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    for expected in [
        space.as_str(),
        sub.as_str(),
        room.as_str(),
        general_room.as_str(),
    ] {
        assert!(
            tree.iter().any(|r| r == expected),
            "{expected} not in {tree:?}"
        );
    }

    // A run that crashed after creating the room but before recording it finds it by alias.
    let fresh_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", fresh_dir.path().join("other.db").display());
    let other_store = MappingStore::open(&url).await.unwrap();
    let other = MatrixSink::new(&env.synapse.config(&env.prefix), other_store).unwrap();
    assert_eq!(other.resolve_chat(&alerts, None).await.unwrap(), room);
}

#[tokio::test]
async fn direct_chats_are_invite_only_with_their_members() {
    let env = env().await;
    let members = vec![UserId::new("alice"), UserId::new("émile")];
    let dm = info(
        "alice,émile",
        "alice, émile",
        &[],
        ChatKind::Direct { members },
    );
    let room = env.sink.resolve_chat(&dm, None).await.unwrap();
    let state = env.read.state(room.as_str()).await.unwrap();
    assert_eq!(
        state_of(&state, "m.room.join_rules", "").unwrap()["join_rule"],
        "invite"
    );
    let server = &env.synapse.server_name;
    for ghost in [
        format!("@{}alice:{server}", env.prefix),
        format!("@{}=c3=a9mile:{server}", env.prefix),
    ] {
        let member = state_of(&state, "m.room.member", &ghost).unwrap_or_else(|| panic!("{ghost}"));
        assert_eq!(member["membership"], "join");
    }
    let emile = state_of(
        &state,
        "m.room.member",
        &format!("@{}=c3=a9mile:{server}", env.prefix),
    );
    assert_eq!(emile.unwrap()["displayname"], "émile");
}

#[tokio::test]
async fn adopted_rooms_resolve_by_alias_or_refuse() {
    let env = env().await;
    let general = info("acme#general", "general", &["acme"], ChatKind::Channel);
    let room = env.sink.resolve_chat(&general, None).await.unwrap();
    let alias = ChatId::new(format!(
        "#{}acme-general:{}",
        env.prefix, env.synapse.server_name
    ));
    assert_eq!(
        env.sink.resolve_chat(&general, Some(&alias)).await.unwrap(),
        room
    );
    assert_eq!(
        env.sink.resolve_chat(&general, Some(&room)).await.unwrap(),
        room
    );
    let missing = ChatId::new(format!(
        "#{}nothing:{}",
        env.prefix, env.synapse.server_name
    ));
    let err = env
        .sink
        .resolve_chat(&general, Some(&missing))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Fatal(_)), "{err}");
    env.sink.check(&room).await.unwrap();
}

fn rich_history(chat: &ChatRef) -> Vec<Message> {
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/sample-export/attachments/acme#general/23-whiteboard.png"
    ))
    .unwrap();
    let mut m1 = text_message(chat, 1, "*hello* <script>x</script> @bob");
    m1.content.syntax = Syntax::Keybase;
    m1.reactions = vec![Reaction {
        emoji: "🎉".into(),
        exact: true,
        users: vec![sender("bob"), sender("carol_x")],
        times: Vec::new(),
    }];
    let mut m2 = text_message(chat, 2, "a reply");
    m2.sender = sender("bob");
    m2.reply_to = Some(MsgId::new("1"));
    let mut m3 = text_message(chat, 3, "the board");
    m3.content.attachments = vec![
        Attachment {
            name: "board.png".into(),
            mime: Some("image/png".into()),
            size: Some(png.len() as u64),
            dimensions: None,
            data: Arc::new(MemoryBlob(png)),
        },
        Attachment {
            name: "notes.txt".into(),
            mime: Some("text/plain".into()),
            size: Some(5),
            dimensions: None,
            data: Arc::new(MemoryBlob(b"notes".to_vec())),
        },
    ];
    let mut m4 = text_message(chat, 4, "dave joined the team");
    m4.kind = MessageKind::Notice;
    let mut m5 = text_message(chat, 5, "answer to a lost message");
    m5.reply_to = Some(MsgId::new("999"));
    let big = text_message(chat, 6, &"x".repeat(70_000));
    vec![m1, m2, m3, m4, m5, big]
}

#[tokio::test]
async fn backfill_keeps_authors_times_replies_reactions_and_files() {
    let env = env().await;
    let from = ChatRef::new(Platform::Keybase, "acme#general");
    let history = rich_history(&from);
    let room = env
        .sink
        .resolve_chat(
            &info("acme#general", "general", &["acme"], ChatKind::Channel),
            None,
        )
        .await
        .unwrap();
    let to = ChatRef::new(Platform::Matrix, room.clone());
    let source =
        Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), history.clone()));
    let job = BackfillJob {
        link: "general".into(),
        source,
        from: from.clone(),
        sink: env.sink.clone(),
        to: Target::Named(to.clone()),
    };
    let options = BackfillOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..BackfillOptions::default()
    };
    let engine = Backfill::new(env.store.clone(), options);
    let shutdown = CancellationToken::new();
    let summary = engine.run_job(&job, &shutdown).await.unwrap();
    assert_eq!((summary.copied, summary.rejected), (5, 1), "{summary:?}");
    let rejected = env.store.rejected(&from, &to).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0].reason.contains("M_TOO_LARGE"),
        "{:?}",
        rejected[0]
    );

    let events: Vec<Value> = env
        .read
        .messages(room.as_str())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["content"].get(SOURCE_KEY).is_some())
        .collect();
    let server = &env.synapse.server_name;
    let ghost = |n: &str| format!("@{}{n}:{server}", env.prefix);
    let kinds: Vec<(String, String, i64)> = events
        .iter()
        .map(|e| {
            (
                e["content"][SOURCE_KEY]["msg"].as_str().unwrap().to_owned(),
                e["sender"].as_str().unwrap().to_owned(),
                e["content"][SOURCE_KEY]["part"].as_i64().unwrap(),
            )
        })
        .collect();
    let bot = format!("@{}:{server}", env.synapse.bot_localpart);
    let expected = vec![
        ("1".to_owned(), ghost("alice"), 0),
        ("1".to_owned(), ghost("bob"), 1),
        ("1".to_owned(), ghost("carol_x"), 2),
        ("2".to_owned(), ghost("bob"), 0),
        ("3".to_owned(), ghost("alice"), 0),
        ("3".to_owned(), ghost("alice"), 1),
        ("4".to_owned(), bot, 0),
        ("5".to_owned(), ghost("alice"), 0),
    ];
    assert_eq!(kinds, expected);
    for e in &events {
        let id: u64 = e["content"][SOURCE_KEY]["msg"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let original = history[id as usize - 1].sent_at.timestamp_millis();
        assert_eq!(e["origin_server_ts"].as_i64(), Some(original), "{e}");
    }
    let first = &events[0];
    assert_eq!(first["content"]["body"], "*hello* <script>x</script> @bob");
    assert_eq!(
        first["content"]["formatted_body"],
        format!(
            "<strong>hello</strong> &lt;script&gt;x&lt;/script&gt; <a href=\"https://matrix.to/#/{}\">@bob</a>",
            ghost("bob")
        )
    );
    for reaction in &events[1..3] {
        assert_eq!(
            reaction["content"]["m.relates_to"]["event_id"],
            first["event_id"]
        );
        assert_eq!(reaction["content"]["m.relates_to"]["key"], "🎉");
    }
    assert_eq!(
        events[3]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        first["event_id"]
    );
    let image = &events[4]["content"];
    assert_eq!(image["msgtype"], "m.image");
    assert_eq!(image["body"], "the board");
    assert_eq!(image["info"]["w"], 2);
    let png = env
        .read
        .download(image["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(png.len(), 77);
    let notes = &events[5]["content"];
    assert_eq!(notes["msgtype"], "m.file");
    assert_eq!(
        env.read
            .download(notes["url"].as_str().unwrap())
            .await
            .unwrap(),
        b"notes"
    );
    assert_eq!(events[6]["content"]["msgtype"], "m.notice");
    assert!(
        events[7]["content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("> ")
    );

    // Nothing new on a second run.
    let again = engine.run_job(&job, &shutdown).await.unwrap();
    assert_eq!(again.parts_sent, 0, "{again:?}");
    let after = env.read.messages(room.as_str()).await.unwrap();
    let ours = after
        .iter()
        .filter(|e| e["content"].get(SOURCE_KEY).is_some())
        .count();
    assert_eq!(ours, events.len());
}

#[tokio::test]
async fn find_sent_finds_a_part_that_arrived() {
    let env = env().await;
    let room = env
        .sink
        .resolve_chat(
            &info("acme#random", "random", &["acme"], ChatKind::Channel),
            None,
        )
        .await
        .unwrap();
    let chat = ChatRef::new(Platform::Keybase, "acme#random");
    let msg = text_message(&chat, 7, "hello");
    let mut other = text_message(&chat, 8, "not sent");
    other.content = Content::plain("not sent");
    let out = |m| Outgoing {
        msg: m,
        part: 0,
        reply_to: None,
        earlier: &[],
        mode: Mode::Backfill,
    };
    let sent = env.sink.send(&room, out(&msg)).await.unwrap();
    assert_eq!(
        env.sink.find_sent(&room, out(&msg)).await.unwrap(),
        Some(sent)
    );
    assert_eq!(env.sink.find_sent(&room, out(&other)).await.unwrap(), None);
}
