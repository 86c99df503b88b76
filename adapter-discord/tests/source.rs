//! The live source against the stand-in's gateway: what arrives, in which order, marked own
//! or not; reaction events settled against Discord when delivered out of order; resume after
//! op 7; re-identify and catch-up after op 9; the fatal close codes; a
//! channel linked while running.

mod common;

use std::{sync::Arc, time::Duration};

use adapter_discord::{DiscordSource, KnownChannels};
use bridge_core::{AdapterError, ChatRef, Event, Incoming, MappingStore, Platform, relay::Queued};
use common::{Rig, backfill, chat, kb};
use discord_standin::intents;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

async fn rig(privileged: u64) -> Rig {
    common::gateway_rig(privileged).await
}

/// A running source and what it delivered.
struct Running {
    rx: mpsc::Receiver<Queued>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), AdapterError>>,
    store: MappingStore,
}

fn start(rig: &Rig, channels: KnownChannels) -> Running {
    let source = DiscordSource::with_options(rig.sink(), channels, common::source_options());
    let (tx, rx) = mpsc::channel(1000);
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move { source.run(tx, token).await });
    Running {
        rx,
        stop,
        task,
        store: rig.store.clone(),
    }
}

impl Running {
    /// The next event, its position saved as the relay does once it has applied it.
    async fn next(&mut self) -> Option<Incoming> {
        let q = tokio::time::timeout(WAIT, self.rx.recv()).await.ok()??;
        if let Some(p) = &q.incoming.position {
            let chat = ChatRef::new(Platform::Discord, q.incoming.event.subject().chat.clone());
            self.store.save_live_position(&chat, p).await.unwrap();
        }
        Some(q.incoming)
    }

    async fn take(&mut self, n: usize) -> Vec<Incoming> {
        let mut got = Vec::new();
        while got.len() < n {
            match self.next().await {
                Some(i) => got.push(i),
                None => panic!("only {} of {n} events arrived: {got:#?}", got.len()),
            }
        }
        got
    }

    /// Nothing more arrives within a short while.
    async fn quiet(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(700), self.rx.recv()).await;
        assert!(
            more.is_err(),
            "unexpected event: {:?}",
            more.unwrap().map(|q| q.incoming)
        );
    }

    async fn stop(self) -> Result<(), AdapterError> {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

async fn poll<T>(mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `channel` is followed (its live position recorded).
async fn followed(store: &MappingStore, channel: u64) -> String {
    let chat = ChatRef::new(Platform::Discord, channel.to_string());
    poll(async || store.live_position(&chat).await.unwrap())
        .await
        .as_str()
        .to_owned()
}

/// A short description of an event: kind, subject, detail, own.
fn show(i: &Incoming) -> String {
    let own = if i.own { " own" } else { "" };
    match &i.event {
        Event::Message(m) => format!(
            "msg {} {}:{}{own}",
            m.origin.msg, m.sender.name, m.content.text
        ),
        Event::Edit {
            target, content, ..
        } => format!("edit {} {}{own}", target.msg, content.text),
        Event::Delete { target, .. } => format!("delete {}{own}", target.msg),
        Event::ReactionAdded {
            target,
            emoji,
            sender,
            ..
        } => {
            format!("react {} {} {emoji}{own}", target.msg, sender.name)
        }
        Event::ReactionRemoved {
            target,
            emoji,
            sender,
            ..
        } => {
            format!("unreact {} {} {emoji}{own}", target.msg, sender.name)
        }
    }
}

fn shown(v: &[Incoming]) -> Vec<String> {
    v.iter().map(show).collect()
}

/// The bot posting and reacting through the REST API, as another kbbridge part would.
async fn as_bot(
    rig: &Rig,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(rig.standin.ca_pem().as_bytes()).unwrap(),
        )
        .resolve("discord.com", rig.standin.tls_addr())
        .build()
        .unwrap();
    let mut req = client
        .request(method, format!("https://discord.com/api/v10{path}"))
        .header("Authorization", format!("Bot {}", rig.standin.token()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let answer = req.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_humans_events_arrive_in_order_and_kbbridges_own_are_marked() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let mut run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;

    let m1 = rig.standin.post_as(&ann, channel, "hello").unwrap();
    assert!(rig.standin.edit_as(&ann, m1, "hello, edited"));
    assert!(rig.standin.react_as(&ann, m1, "👍"));
    // A reaction is relayed as Discord has it when its event is handled: taken back only
    // once the add was handled.
    let mut got = run.take(3).await;
    assert!(rig.standin.unreact_as(&ann, m1, "👍"));
    let m2 = rig.standin.post_as(&ann, channel, "two").unwrap();
    let m3 = rig.standin.post_as(&ann, channel, "three").unwrap();
    assert_eq!(rig.standin.bulk_delete(channel, &[m2, m3]).len(), 2);
    assert!(rig.standin.delete_message(m1));
    got.extend(run.take(6).await);
    assert_eq!(
        shown(&got),
        [
            format!("msg {m1} ann:hello"),
            format!("edit {m1} hello, edited"),
            format!("react {m1} ann 👍"),
            format!("unreact {m1} ann 👍"),
            format!("msg {m2} ann:two"),
            format!("msg {m3} ann:three"),
            format!("delete {m2}"),
            format!("delete {m3}"),
            format!("delete {m1}"),
        ]
    );
    assert_eq!(got[0].position.as_ref().unwrap().as_str(), m1.to_string());
    let Event::Message(m) = &got[0].event else {
        panic!()
    };
    assert_eq!(m.sender.id.as_str(), ann.id.to_string());

    // kbbridge's webhook copy, the bot's own message and the bot's reaction: marked own.
    backfill(
        &rig.store,
        rig.sink(),
        vec![(
            chat("t#general"),
            vec![kb(&chat("t#general"), 1, "copied")],
            channel,
        )],
    )
    .await;
    let copy = run.take(1).await;
    assert!(copy[0].own, "{:?}", show(&copy[0]));
    let posted = as_bot(
        &rig,
        reqwest::Method::POST,
        &format!("/channels/{channel}/messages"),
        Some(serde_json::json!({"content": "from the bot"})),
    )
    .await;
    let bot_msg = posted["id"].as_str().unwrap().to_owned();
    as_bot(
        &rig,
        reqwest::Method::PUT,
        &format!("/channels/{channel}/messages/{bot_msg}/reactions/%E2%9C%85/@me"),
        None,
    )
    .await;
    let own = run.take(2).await;
    assert_eq!(own[0].event.subject().msg.as_str(), bot_msg);
    assert!(matches!(&own[0].event, Event::Message(m) if m.content.text == "from the bot"));
    assert!(own.iter().all(|i| i.own), "{:?}", shown(&own));
    assert!(matches!(&own[1].event, Event::ReactionAdded { emoji, .. } if emoji == "✅"));
    run.quiet().await;
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rapid_events_of_one_channel_keep_the_gateways_order() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("busy");
    let ann = rig.standin.add_human("ann");
    let bob = rig.standin.add_human("bob");
    let mut run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;
    let mut expected = Vec::new();
    let m = rig.standin.post_as(&ann, channel, "v0").unwrap();
    expected.push(format!("msg {m} ann:v0"));
    // Reactions kept until all arrived: each is relayed as Discord has it when handled.
    for (i, emoji) in EMOJI.iter().enumerate() {
        assert!(rig.standin.edit_as(&ann, m, &format!("v{i}")));
        expected.push(format!("edit {m} v{i}"));
        assert!(rig.standin.react_as(&bob, m, emoji));
        expected.push(format!("react {m} bob {emoji}"));
    }
    let got = run.take(expected.len()).await;
    assert_eq!(shown(&got), expected);
    let mut expected = Vec::new();
    for emoji in EMOJI {
        assert!(rig.standin.unreact_as(&bob, m, emoji));
        expected.push(format!("unreact {m} bob {emoji}"));
    }
    let got = run.take(expected.len()).await;
    assert_eq!(shown(&got), expected);
    run.quiet().await;
    run.stop().await.unwrap();
}

/// Fifteen different emoji (Discord allows 20 on a message).
const EMOJI: [&str; 15] = [
    "👍", "🎉", "😀", "😂", "🔥", "🚀", "👀", "💯", "🙏", "👏", "🌟", "🍕", "🎈", "🐱", "🦀",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaction_events_delivered_out_of_order_are_relayed_as_discord_ends() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let bob = rig.standin.add_human("bob");
    let mut run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;
    let m = rig.standin.post_as(&ann, channel, "react to me").unwrap();
    assert_eq!(
        shown(&run.take(1).await),
        [format!("msg {m} ann:react to me")]
    );

    // Ann reacts and takes it back, the removal delivered first: both are removals (the
    // relay has nothing to take back), so no reaction is left anywhere.
    rig.standin.hold_dispatches(channel);
    assert!(rig.standin.react_as(&ann, m, "👍"));
    assert!(rig.standin.unreact_as(&ann, m, "👍"));
    let sent = rig.standin.release_dispatches(channel, &[1, 0]);
    assert_eq!(sent, ["MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_ADD"]);
    assert_eq!(
        shown(&run.take(2).await),
        [format!("unreact {m} ann 👍"), format!("unreact {m} ann 👍")]
    );

    // Bob, never seen before, reacts, takes it back and reacts again, the removal delivered
    // first: all three are adds, the first named from Discord's answer.
    rig.standin.hold_dispatches(channel);
    assert!(rig.standin.react_as(&bob, m, "🎉"));
    assert!(rig.standin.unreact_as(&bob, m, "🎉"));
    assert!(rig.standin.react_as(&bob, m, "🎉"));
    let sent = rig.standin.release_dispatches(channel, &[1]);
    assert_eq!(
        sent,
        [
            "MESSAGE_REACTION_REMOVE",
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_ADD"
        ]
    );
    let got = run.take(3).await;
    assert_eq!(shown(&got), vec![format!("react {m} bob 🎉"); 3]);
    assert!(got.iter().all(|i| !i.own));

    // A reaction on a message deleted before its event was handled (10008): a removal.
    rig.standin.hold_dispatches(channel);
    assert!(rig.standin.react_as(&ann, m, "🔥"));
    assert!(rig.standin.delete_message(m));
    let sent = rig.standin.release_dispatches(channel, &[]);
    assert_eq!(sent, ["MESSAGE_REACTION_ADD", "MESSAGE_DELETE"]);
    assert_eq!(
        shown(&run.take(2).await),
        [format!("unreact {m} ann 🔥"), format!("delete {m}")]
    );
    run.quiet().await;
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_7_resumes_the_session_and_loses_nothing() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let mut run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;
    let a = rig.standin.post_as(&ann, channel, "a").unwrap();
    assert_eq!(rig.standin.force_reconnect(), 1);
    let b = rig.standin.post_as(&ann, channel, "b").unwrap();
    let got = run.take(2).await;
    let c = rig.standin.post_as(&ann, channel, "c").unwrap();
    let mut all = got;
    all.extend(run.take(1).await);
    assert_eq!(
        shown(&all),
        [
            format!("msg {a} ann:a"),
            format!("msg {b} ann:b"),
            format!("msg {c} ann:c")
        ]
    );
    run.quiet().await;
    let stats = rig.standin.gateway_stats();
    assert_eq!(stats.identifies, 1, "{stats:?}");
    assert_eq!(stats.resumes, 1, "{stats:?}");
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_9_reidentifies_and_catches_up_what_it_missed() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let mut run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;
    let a = rig.standin.post_as(&ann, channel, "a").unwrap();
    assert_eq!(shown(&run.take(1).await), [format!("msg {a} ann:a")]);
    // The session ends at once: what is posted now reaches no session.
    assert_eq!(rig.standin.force_invalid_session(false), 1);
    let missed: Vec<u64> = (0..3)
        .map(|i| {
            rig.standin
                .post_as(&ann, channel, &format!("missed {i}"))
                .unwrap()
        })
        .collect();
    let got = run.take(3).await;
    assert_eq!(
        shown(&got),
        missed
            .iter()
            .enumerate()
            .map(|(i, id)| format!("msg {id} ann:missed {i}"))
            .collect::<Vec<_>>()
    );
    // Live again after the new session.
    poll(async || (rig.standin.gateway_stats().identifies == 2).then_some(())).await;
    let d = rig.standin.post_as(&ann, channel, "d").unwrap();
    assert_eq!(shown(&run.take(1).await), [format!("msg {d} ann:d")]);
    run.quiet().await;
    assert_eq!(rig.standin.gateway_stats().resumes, 0);
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_stops_with_what_to_fix() {
    let rig = rig(intents::PRIVILEGED).await;
    let mut config = rig.config();
    config.token = bridge_core::Secret::new("not-the-token");
    let sink = Arc::new(adapter_discord::DiscordSink::new(&config, rig.store.clone()).unwrap());
    let source =
        DiscordSource::with_options(sink, KnownChannels::default(), common::source_options());
    let (tx, _rx) = mpsc::channel(10);
    let e = tokio::time::timeout(WAIT, source.run(tx, CancellationToken::new()))
        .await
        .expect("the source should stop")
        .unwrap_err();
    // The stand-in, like Discord, refuses the token already on `GET /gateway`.
    assert!(matches!(e, AdapterError::Fatal(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("401") && text.contains("KBBRIDGE__DISCORD__TOKEN"),
        "{text}"
    );
    assert!(!text.contains("not-the-token"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_on_the_gateway_stops_with_what_to_fix() {
    let rig = rig(intents::PRIVILEGED).await;
    let channel = rig.channel("general");
    let run = start(&rig, KnownChannels::new([channel]));
    followed(&rig.store, channel).await;
    // The token reset while connected: Discord closes with 4004.
    assert_eq!(rig.standin.close_gateway_connections(4004), 1);
    let e = tokio::time::timeout(WAIT, run.task)
        .await
        .expect("the source should stop")
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, AdapterError::Fatal(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("4004") && text.contains("KBBRIDGE__DISCORD__TOKEN"),
        "{text}"
    );
    assert!(!text.contains(rig.standin.token()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_message_content_intent_it_stops_with_the_advice() {
    let rig = rig(intents::PRIVILEGED & !intents::MESSAGE_CONTENT).await;
    let run = start(&rig, KnownChannels::default());
    let e = tokio::time::timeout(WAIT, run.task)
        .await
        .expect("the source should stop")
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, AdapterError::Fatal(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("enable the Message Content intent")
            && text.contains("Developer Portal")
            && text.contains("Privileged Gateway Intents"),
        "{text}"
    );
    assert_eq!(rig.standin.gateway_stats().closes.get(&4014), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_linked_while_running_is_followed_from_its_newest_message() {
    let rig = rig(intents::PRIVILEGED).await;
    let linked = rig.channel("linked");
    let later = rig.channel("later");
    let ann = rig.standin.add_human("ann");
    let channels = KnownChannels::new([linked]);
    let mut run = start(&rig, channels.clone());
    followed(&rig.store, linked).await;
    // Not linked yet: not relayed, and history is not replayed when it is.
    let before = rig.standin.post_as(&ann, later, "before").unwrap();
    let x = rig.standin.post_as(&ann, linked, "x").unwrap();
    assert_eq!(shown(&run.take(1).await), [format!("msg {x} ann:x")]);
    assert!(channels.insert(later));
    assert_eq!(followed(&rig.store, later).await, before.to_string());
    let after = rig.standin.post_as(&ann, later, "after").unwrap();
    assert_eq!(
        shown(&run.take(1).await),
        [format!("msg {after} ann:after")]
    );
    // Unlinked: its events stop.
    assert!(channels.remove(later));
    let y = rig.standin.post_as(&ann, later, "y").unwrap();
    let z = rig.standin.post_as(&ann, linked, "z").unwrap();
    assert_eq!(
        shown(&run.take(1).await),
        [format!("msg {z} ann:z")],
        "{y} not relayed"
    );
    run.quiet().await;
    run.stop().await.unwrap();
}
