//! The sink through the backfill engine, against the stand-in over TLS with serenity's real
//! stack: content, parts, files, replies, mentions, pacing, exactly-once after lost answers.

mod common;

use std::{sync::Arc, time::Duration};

use adapter_discord::limiter::LimiterOptions;
use bridge_core::{
    Attachment, ChatId, ChatInfo, ChatKind, Reaction, Sender, Sink, UserId, model::MemoryBlob,
};
use common::{backfill, chat, kb, rig};
use discord_standin::{CATEGORY, Fault, FaultTarget, Limits, TEXT};

fn user(name: &str) -> Sender {
    Sender {
        id: UserId::new(name),
        name: name.into(),
        avatar: None,
    }
}

#[tokio::test]
async fn a_backfill_arrives_complete_silent_and_in_order() {
    let r = rig(Limits::discord().scaled(0.1), 100).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let mut msgs = vec![
        kb(&c, 1, "*hello* @everyone @here <@123> <@&456>"),
        kb(&c, 2, &"long sentence here. ".repeat(120)),
        kb(&c, 3, "a reply"),
        kb(&c, 4, "small file"),
        kb(&c, 5, "big file"),
    ];
    msgs[0].sender = user("discord_alice");
    msgs[2].reply_to = Some("1".into());
    msgs[2].reactions = vec![Reaction {
        emoji: "👍".into(),
        exact: true,
        users: vec![user("bob"), user("carol_x")],
        times: Vec::new(),
    }];
    let file = |name: &str, n: usize| Attachment {
        name: name.into(),
        mime: None,
        size: Some(n as u64),
        dimensions: None,
        data: Arc::new(MemoryBlob(vec![7u8; n])),
    };
    msgs[3].content.attachments = vec![file("a.bin", 50)];
    msgs[4].content.attachments = vec![file("b.bin", 150)];
    msgs[4].sent_at += chrono::Duration::days(3);
    let sink = r.sink();
    let s = backfill(
        &r.store,
        sink.clone(),
        vec![(c.clone(), msgs.clone(), channel)],
    )
    .await;
    assert_eq!((s[0].copied, s[0].rejected, s[0].degraded), (5, 0, 1));

    let got = r.standin.messages(channel);
    assert_eq!(got.len(), 6, "message 2 takes two parts");
    for m in &got {
        assert_eq!(m.flags, 4096, "suppress notifications");
        assert_eq!(
            m.allowed_mentions.as_ref().unwrap()["parse"],
            serde_json::json!([])
        );
        assert!(m.pinged.is_empty(), "{:?}", m.pinged);
        assert!(m.content.chars().count() <= 2000);
        assert!(m.webhook_id.is_some());
    }
    assert_eq!(got[0].author_name, "disc_ord_alice");
    assert_eq!(
        got[0].avatar_url.as_deref(),
        Some("https://avatars.example/discord_alice.png")
    );
    let t = |i: usize| format!("<t:{}:f>", msgs[i].sent_at.timestamp());
    assert!(
        got[0].content.starts_with("**── <t:"),
        "first message of the day: {}",
        got[0].content
    );
    assert!(
        got[0]
            .content
            .contains(&format!("{} **hello** @everyone", t(0))),
        "{}",
        got[0].content
    );
    assert!(got[1].content.starts_with(&t(1)), "same day: no separator");
    assert!(!got[2].content.contains("<t:"), "second part has no header");
    let parent = got[0].id;
    assert!(
        got[3].content.contains(&format!("/{channel}/{parent})")),
        "{}",
        got[3].content
    );
    assert!(
        got[3]
            .content
            .contains("> ↪ **disc\\_ord\\_alice** **hello**"),
        "{}",
        got[3].content
    );
    assert!(
        got[3].content.ends_with("-# 👍 bob, carol\\_x"),
        "{}",
        got[3].content
    );
    assert_eq!(got[4].files[0].bytes, vec![7u8; 50]);
    assert!(got[5].files.is_empty());
    assert!(
        got[5].content.contains(
            "📎 *b.bin (150 bytes) was not copied: larger than Discord's 149 bytes limit*"
        ),
        "{}",
        got[5].content
    );
    assert!(got[5].content.starts_with("**── <t:"), "a new day");

    // A second run sends nothing.
    let before = r.standin.stats().requests;
    let s = backfill(&r.store, sink, vec![(c, msgs, channel)]).await;
    assert_eq!((s[0].skipped, s[0].parts_sent), (5, 0));
    assert_eq!(r.standin.messages(channel).len(), 6);
    let after = r.standin.stats().requests;
    assert_eq!(
        after - before,
        2,
        "only the engine's setup (the channel adopted) and check of the channel"
    );
    assert_eq!(r.standin.stats().late_429, 0);
}

#[tokio::test]
async fn lost_answers_and_faults_end_with_no_duplicate_and_no_gap() {
    let r = rig(Limits::discord().scaled(0.05), 1000).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let msgs: Vec<_> = (1..=40)
        .map(|i| kb(&c, i, &format!("message {i}")))
        .collect();
    r.standin
        .inject(Fault::DropAfterCommit, FaultTarget::WebhookExecute, 3);
    r.standin
        .inject(Fault::Drop, FaultTarget::WebhookExecute, 2);
    r.standin
        .inject(Fault::ServerError(502), FaultTarget::WebhookExecute, 2);
    r.standin.inject(
        Fault::RateLimit {
            global: false,
            header: false,
            retry_after: Duration::from_millis(200),
        },
        FaultTarget::WebhookExecute,
        2,
    );
    // The engine retries each failed send; after an unclear failure the sink first looks for
    // the message, so nothing arrives twice.
    let sink = r.sink();
    let s = backfill(&r.store, sink, vec![(c, msgs, channel)]).await;
    assert_eq!(s[0].copied, 40);
    let got = r.standin.messages(channel);
    let texts: Vec<String> = got
        .iter()
        .map(|m| m.content.split("> ").last().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("message {i}")).collect();
    let dropped_after_commit = r.standin.stats().dropped_after_commit;
    assert_eq!(dropped_after_commit, 3);
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn a_pending_part_is_found_instead_of_resent() {
    let r = rig(Limits::discord().scaled(0.05), 1000).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let msgs: Vec<_> = (1..=3)
        .map(|i| kb(&c, i, &format!("message {i}")))
        .collect();
    let sink = r.sink();
    backfill(
        &r.store,
        sink.clone(),
        vec![(c.clone(), msgs[..2].to_vec(), channel)],
    )
    .await;
    // Simulate a crash after message 3 was delivered but before it was recorded.
    let to = bridge_core::ChatRef::new(
        bridge_core::Platform::Discord,
        ChatId::new(channel.to_string()),
    );
    let out = bridge_core::Outgoing {
        msg: &msgs[2],
        part: 0,
        reply_to: None,
        earlier: &[],
        mode: bridge_core::Mode::Backfill,
    };
    sink.send(&to.chat, out).await.unwrap();
    r.store.mark_pending(&msgs[2].origin, &to, 0).await.unwrap();
    let fresh = r.sink();
    let s = backfill(&r.store, fresh, vec![(c, msgs, channel)]).await;
    assert_eq!(s[0].reconciled, 1);
    assert_eq!(s[0].parts_sent, 0);
    assert_eq!(r.standin.messages(channel).len(), 3);
}

#[tokio::test]
async fn channels_in_parallel_are_paced_without_a_429_after_the_first_answer() {
    let r = rig(Limits::discord().scaled(0.1), 1000).await;
    let chats: Vec<_> = (0..4)
        .map(|i| {
            let c = chat(&format!("acme#c{i}"));
            let msgs = (1..=30).map(|n| kb(&c, n, &format!("m{n}"))).collect();
            (c, msgs, r.channel(&format!("c{i}")))
        })
        .collect();
    let start = std::time::Instant::now();
    let s = backfill(&r.store, r.sink(), chats.clone()).await;
    assert!(s.iter().all(|s| s.copied == 30));
    let stats = r.standin.stats();
    assert_eq!((stats.late_429, stats.global_429), (0, 0), "{stats:?}");
    // 30 messages per webhook at 5 per 200 ms take at least 1 s.
    assert!(start.elapsed() >= Duration::from_millis(1000));
    for (_, _, channel) in chats {
        let got = r.standin.messages(channel);
        let order: Vec<String> = got
            .iter()
            .map(|m| m.content.rsplit(' ').next().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (1..=30).map(|n| format!("m{n}")).collect();
        assert_eq!(order, expected);
    }
}

#[tokio::test]
async fn through_an_api_proxy_our_limiter_alone_keeps_the_pace() {
    let r = rig(Limits::discord().scaled(0.1), 1000).await;
    let mut config = r.config();
    config.api_base = Some(format!("http://{}", r.standin.http_addr()).parse().unwrap());
    // As a proxy deployment has it: connect_to is refused with api_base, and the proxy here
    // speaks plain HTTP.
    config.connect_to = None;
    config.ca_file = None;
    let sink = r.sink_with(&config, LimiterOptions::default());
    let channel = r.channel("general");
    let c = chat("acme#general");
    let msgs: Vec<_> = (1..=30).map(|i| kb(&c, i, &format!("m{i}"))).collect();
    r.standin.inject(
        Fault::RateLimit {
            global: true,
            header: true,
            retry_after: Duration::from_millis(300),
        },
        FaultTarget::WebhookExecute,
        1,
    );
    let s = backfill(&r.store, sink, vec![(c, msgs, channel)]).await;
    assert_eq!(s[0].copied, 30);
    assert_eq!(r.standin.messages(channel).len(), 30);
    let stats = r.standin.stats();
    assert_eq!((stats.late_429, stats.global_429), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn auto_channels_are_created_once_and_adopted_channels_checked() {
    let r = rig(Limits::discord().scaled(0.05), 1000).await;
    let sink = r.sink();
    let info = ChatInfo {
        chat: chat("acme.ops#alerts"),
        name: "alerts".into(),
        topic: Some("pager stuff".into()),
        path: vec!["acme".into(), "ops".into()],
        kind: ChatKind::Channel,
    };
    let a = sink.resolve_chat(&info, None).await.unwrap();
    let b = r.sink().resolve_chat(&info, None).await.unwrap();
    assert_eq!(a, b);
    let dm = ChatInfo {
        chat: chat("alice,bob"),
        name: "alice, bob".into(),
        topic: None,
        path: vec![],
        kind: ChatKind::Direct {
            members: vec![UserId::new("alice"), UserId::new("bob")],
        },
    };
    let d = sink.resolve_chat(&dm, None).await.unwrap();
    let channels = r.standin.channels();
    let find = |id: &ChatId| {
        channels
            .iter()
            .find(|c| c.id.to_string() == id.as_str())
            .unwrap()
            .clone()
    };
    let (alerts, direct) = (find(&a), find(&d));
    assert_eq!(
        (alerts.name.as_str(), alerts.topic.as_deref()),
        ("alerts", Some("pager stuff"))
    );
    let parent = channels
        .iter()
        .find(|c| Some(c.id) == alerts.parent_id)
        .unwrap();
    assert_eq!((parent.kind, parent.name.as_str()), (CATEGORY, "acme.ops"));
    assert!(direct.private);
    assert_eq!(direct.name, "alice-bob");
    assert_eq!(
        channels.len(),
        4,
        "two categories, two channels: {channels:?}"
    );

    // Adopting: a text channel of the guild is fine, a category is not.
    let existing = r.standin.create_channel("general", TEXT, None);
    let got = sink
        .resolve_chat(&info, Some(&ChatId::new(existing.to_string())))
        .await
        .unwrap();
    assert_eq!(got.as_str(), existing.to_string());
    let err = sink
        .resolve_chat(&info, Some(&ChatId::new(parent.id.to_string())))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a text channel"), "{err}");
    // One webhook per channel, reused by a new sink.
    sink.check(&got).await.unwrap();
    r.sink().check(&got).await.unwrap();
    assert_eq!(
        r.standin
            .webhooks()
            .iter()
            .filter(|w| w.channel_id == existing)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_bad_token_is_fatal() {
    let r = rig(Limits::discord(), 1000).await;
    let mut config = r.config();
    config.token = bridge_core::Secret::new("wrong");
    let sink = r.sink_with(&config, LimiterOptions::default());
    let channel = r.channel("general");
    let err = sink
        .check(&ChatId::new(channel.to_string()))
        .await
        .unwrap_err();
    assert!(matches!(err, bridge_core::AdapterError::Fatal(_)), "{err}");
    assert!(err.to_string().contains("token"), "{err}");
}
