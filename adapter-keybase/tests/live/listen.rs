//! The supervised api-listen and its events, against the stand-in: what people do arrives as
//! core events with their positions and ids; this device's sends are `local`, the bridge
//! account's phone is not; a delete is expanded; api-listen killed mid-traffic is restarted and
//! the gap is caught up.

use std::{sync::Arc, time::Duration};

use adapter_keybase::{
    cli::KeybaseCli,
    live::{
        ApiListen, Downloader, EventReader, Identity, ListenItem, ListenOptions, LiveEvent,
        catch_up, find_conversations,
    },
};
use bridge_core::{ChatId, Event};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    standin::{Client, StandIn},
    world::{self, GENERAL, write},
};

/// A running supervisor and what it reports.
struct Live {
    items: mpsc::Receiver<ListenItem>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(cli: &KeybaseCli, min_delay: Duration) -> Live {
    let me = Identity::of(cli).await.unwrap();
    assert_eq!(
        me,
        Identity {
            username: "alice".into(),
            device: "laptop".into()
        }
    );
    let downloader = Downloader::new(Arc::new(Mutex::new(cli.chat_api())));
    let reader = EventReader::new(me, Some(downloader));
    let options = ListenOptions {
        min_delay,
        max_delay: min_delay,
        ..ListenOptions::default()
    };
    let listen = ApiListen::new(cli.clone(), options);
    let (tx, items) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        listen.run(reader, tx, stop).await.unwrap();
    });
    Live {
        items,
        shutdown,
        task,
    }
}

impl Live {
    async fn next(&mut self) -> ListenItem {
        tokio::time::timeout(Duration::from_secs(20), self.items.recv())
            .await
            .expect("an api-listen item within 20 s")
            .expect("the supervisor runs")
    }

    async fn event(&mut self) -> LiveEvent {
        match self.next().await {
            ListenItem::Event(e) => *e,
            ListenItem::Started { restarts, .. } => panic!("unexpected start #{restarts}"),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn text_of(e: &LiveEvent) -> &str {
    match &e.event {
        Event::Message(m) => &m.content.text,
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_actions_arrive_as_core_events_and_own_sends_are_local_by_device() {
    let s = world::build();
    s.write("upload/plan.txt", "PLAN-BYTES");
    let mut live = start(&s.cli(), Duration::from_millis(200)).await;
    assert!(matches!(
        live.next().await,
        ListenItem::Started {
            restarts: 0,
            previous_end: None
        }
    ));
    let general = ChatId::new("acme#general");
    // bob, from his phone.
    let hello = write(
        &s,
        "bob",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"helo"}},"reply_to":1"#),
    );
    let e = live.event().await;
    assert_eq!(
        (text_of(&e), e.position, e.keybase_id, e.local),
        ("helo", hello, hello, false)
    );
    assert_eq!(e.device, "phone");
    let Event::Message(m) = &e.event else {
        unreachable!()
    };
    assert_eq!(m.origin.chat, general);
    assert_eq!(m.reply_to.as_ref().map(|r| r.as_str()), Some("1"));
    assert_eq!(m.sender.name, "bob");
    // The bridge account typing on its phone is a person, not an echo.
    let phone = write(
        &s,
        "alice:phone",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"from my phone"}}"#),
    );
    let e = live.event().await;
    assert_eq!(
        (text_of(&e), e.keybase_id, e.local, e.device.as_str()),
        ("from my phone", phone, false, "phone")
    );
    // What this device sends (kbbridge's own copies) is local.
    let own = write(
        &s,
        "alice",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"**x** (Matrix): copy"}}"#),
    );
    let e = live.event().await;
    assert_eq!((e.keybase_id, e.local), (own, true));

    // An edit.
    let edit = write(
        &s,
        "bob",
        "edit",
        &format!(r#"{GENERAL},"message_id":{hello},"message":{{"body":"hello"}}"#),
    );
    let e = live.event().await;
    assert_eq!(e.keybase_id, edit);
    match &e.event {
        Event::Edit {
            target,
            content,
            sender,
            ..
        } => {
            assert_eq!(
                (
                    target.msg.as_str(),
                    content.text.as_str(),
                    sender.name.as_str()
                ),
                (hello.to_string().as_str(), "hello", "bob")
            );
        }
        other => panic!("{other:?}"),
    }
    // A reaction, with its own id; the same reaction again toggles it off.
    let react = format!(r#"{GENERAL},"message_id":{hello},"message":{{"body":":+1:"}}"#);
    let reaction = write(&s, "carol", "reaction", &react);
    let e = live.event().await;
    assert_eq!((e.keybase_id, e.position), (reaction, reaction));
    match &e.event {
        Event::ReactionAdded {
            target,
            sender,
            emoji,
            id,
        } => {
            assert_eq!(
                (target.msg.as_str(), sender.name.as_str(), emoji.as_str()),
                (hello.to_string().as_str(), "carol", ":+1:")
            );
            assert_eq!(
                id.as_ref().map(|i| i.to_string()),
                Some(reaction.to_string())
            );
        }
        other => panic!("{other:?}"),
    }
    let toggle = write(&s, "carol", "reaction", &react);
    let e = live.event().await;
    assert_eq!(
        (e.position, e.keybase_id),
        (toggle, reaction),
        "the removed reaction's own id"
    );
    match &e.event {
        Event::ReactionRemoved {
            target,
            sender,
            emoji,
            id,
        } => {
            assert_eq!(
                (target.msg.as_str(), sender.name.as_str(), emoji.as_str()),
                (hello.to_string().as_str(), "carol", ":+1:")
            );
            assert_eq!(
                id.as_ref().map(|i| i.to_string()),
                Some(reaction.to_string())
            );
        }
        other => panic!("{other:?}"),
    }
    // Another reaction stays on it, then the message is deleted: one delete, its edit and
    // reaction going with it.
    let tada = write(
        &s,
        "bob",
        "reaction",
        &format!(r#"{GENERAL},"message_id":{hello},"message":{{"body":":tada:"}}"#),
    );
    assert_eq!(live.event().await.keybase_id, tada);
    let delete = write(
        &s,
        "bob",
        "delete",
        &format!(r#"{GENERAL},"message_id":{hello}"#),
    );
    let e = live.event().await;
    assert_eq!((e.position, e.keybase_id), (delete, hello));
    assert!(
        matches!(&e.event, Event::Delete { target, .. } if target.msg.as_str() == hello.to_string())
    );
    // A file, fetched when read.
    let upload = s.home().join("upload/plan.txt");
    let file = write(
        &s,
        "bob",
        "attach",
        &format!(
            r#"{GENERAL},"filename":"{}","title":"the plan""#,
            upload.display()
        ),
    );
    let e = live.event().await;
    assert_eq!(e.keybase_id, file);
    let Event::Message(m) = &e.event else {
        panic!("{:?}", e.event)
    };
    assert_eq!(m.content.text, "the plan");
    let a = &m.content.attachments[0];
    assert_eq!(
        (a.name.as_str(), a.size, a.mime.as_deref()),
        ("plan.txt", Some(10), Some("text/plain"))
    );
    assert_eq!(a.data.read().await.unwrap(), b"PLAN-BYTES");
    // Nothing more came (the delete's list gave one event, the toggle one).
    let more = tokio::time::timeout(Duration::from_millis(500), live.items.recv()).await;
    assert!(more.is_err(), "unexpected {more:?}");
    live.stop().await;
}

/// Posts `n` messages as bob; their ids.
fn post(s: &StandIn, what: &str, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            write(
                s,
                "bob",
                "send",
                &format!(r#"{GENERAL},"message":{{"body":"{what} {i}"}}"#),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_listen_killed_mid_traffic_is_restarted_and_the_gap_is_caught_up() {
    let s = world::build();
    let cli = s.cli();
    let mut live = start(&cli, Duration::from_secs(2)).await;
    assert!(matches!(
        live.next().await,
        ListenItem::Started { restarts: 0, .. }
    ));
    let mut api = cli.chat_api();
    let convs = find_conversations(
        &mut api,
        &[ChatId::new("acme#general")],
        &Default::default(),
    )
    .await
    .unwrap();
    let conv = convs[&ChatId::new("acme#general")].id.clone();

    let before = post(&s, "before", 3);
    let mut position = 0;
    for id in &before {
        let e = live.event().await;
        assert_eq!(e.keybase_id, *id);
        assert_eq!(e.conversation_id, conv);
        position = e.position;
    }
    // The service goes away: api-listen exits with "connection to service lost".
    s.write("listen-die", "");
    let died = std::time::Instant::now();
    while s.home().join("listen-die").exists() {
        assert!(
            died.elapsed() < Duration::from_secs(20),
            "api-listen never took the hook"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Traffic while nobody listens (the restart waits 2 s): an edit and a reaction too.
    let gap = post(&s, "gap", 3);
    let edit = write(
        &s,
        "carol",
        "edit",
        &format!(
            r#"{GENERAL},"message_id":{},"message":{{"body":"edited in the gap"}}"#,
            before[0]
        ),
    );
    let reaction = write(
        &s,
        "carol",
        "reaction",
        &format!(
            r#"{GENERAL},"message_id":{},"message":{{"body":":tada:"}}"#,
            gap[0]
        ),
    );
    // The supervisor restarts it and says so, with why the last one ended.
    match live.next().await {
        ListenItem::Started {
            restarts,
            previous_end,
        } => {
            assert_eq!(restarts, 1);
            let end = previous_end.unwrap();
            assert!(end.contains("connection to service lost"), "{end}");
        }
        ListenItem::Event(e) => panic!("the dead listener streamed {e:?}"),
    }
    // The caller catches up after its last position.
    let reader = EventReader::new(Identity::of(&cli).await.unwrap(), None);
    let caught = catch_up(&mut api, &reader, &conv, position, 2)
        .await
        .unwrap();
    let ids: Vec<u64> = caught.events.iter().map(|e| e.keybase_id).collect();
    let mut expected = gap.clone();
    expected.extend([edit, reaction]);
    assert_eq!(
        ids, expected,
        "the gap, oldest first, nothing before the position"
    );
    assert_eq!(caught.newest, Some(reaction));
    assert!(caught.pages >= 3, "paged by 2: {}", caught.pages);
    assert!(
        matches!(&caught.events[3].event, Event::Edit { target, content, .. }
        if target.msg.as_str() == before[0].to_string() && content.text == "edited in the gap")
    );
    assert!(
        matches!(&caught.events[4].event, Event::ReactionAdded { emoji, .. } if emoji == ":tada:")
    );
    assert!(caught.events.iter().all(|e| !e.local));
    // Live again after the restart.
    let after = post(&s, "after", 1);
    assert_eq!(live.event().await.keybase_id, after[0]);
    // A catch-up from the new position finds only what came since.
    let again = catch_up(&mut api, &reader, &conv, reaction, 100)
        .await
        .unwrap();
    assert_eq!(
        again
            .events
            .iter()
            .map(|e| e.keybase_id)
            .collect::<Vec<_>>(),
        after
    );
    live.stop().await;
    api.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_tells_this_device_from_the_accounts_phone() {
    let s = world::build();
    let cli = s.cli();
    let mine = write(
        &s,
        "alice",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"copy"}}"#),
    );
    let phone = write(
        &s,
        "alice:phone",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"typed"}}"#),
    );
    let mut api = cli.chat_api();
    let conv = find_conversations(
        &mut api,
        &[ChatId::new("acme#general")],
        &Default::default(),
    )
    .await
    .unwrap()[&ChatId::new("acme#general")]
        .id
        .clone();
    let reader = EventReader::new(Identity::of(&cli).await.unwrap(), None);
    let caught = catch_up(&mut api, &reader, &conv, 0, 100).await.unwrap();
    let seen: Vec<(u64, bool)> = caught
        .events
        .iter()
        .map(|e| (e.keybase_id, e.local))
        .collect();
    assert_eq!(seen, [(1, false), (mine, true), (phone, false)]);
    // A chat the account does not have is named.
    let err = find_conversations(&mut api, &[ChatId::new("acme#nope")], &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("acme#nope"), "{err}");
    api.close().await;
}
