//! The feed: api-listen and catch-ups as one stream per conversation. Messages posted before
//! it starts, during traffic and while api-listen is dead (killed twice mid-traffic) all come
//! once, in order.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use adapter_keybase::live::{
    ApiListen, EventReader, FeedItem, Followed, Identity, KeybaseFeed, ListenOptions,
    find_conversations,
};
use bridge_core::{ChatId, Event};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    standin::Client,
    world::{self, write},
};

const CHATS: [(&str, &str); 2] = [
    (
        "acme#general",
        r#""channel":{"name":"acme","members_type":"team","topic_name":"general"}"#,
    ),
    ("alice,bob", r#""channel":{"name":"alice,bob"}"#),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_comes_once_in_order_across_api_listen_deaths() {
    let s = Arc::new(world::build());
    let cli = s.cli();
    // Said before the feed starts (after the positions it is given).
    let mut posted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (chat, channel) in CHATS {
        for i in 0..2 {
            let id = write(
                &s,
                "bob",
                "send",
                &format!(r#"{channel},"message":{{"body":"early {i}"}}"#),
            );
            posted.entry(chat.to_owned()).or_default().push(id);
        }
    }
    let api = Arc::new(Mutex::new(cli.chat_api()));
    let chats: Vec<ChatId> = CHATS.iter().map(|(c, _)| ChatId::new(*c)).collect();
    let convs = find_conversations(&mut *api.lock().await, &chats, &Default::default())
        .await
        .unwrap();
    let chat_of: BTreeMap<String, String> = convs
        .iter()
        .map(|(chat, c)| (c.id.clone(), chat.to_string()))
        .collect();
    let followed: Vec<Followed> = convs
        .values()
        .map(|c| Followed {
            conversation_id: c.id.clone(),
            channel: c.channel.clone(),
            position: 1,
        })
        .collect();
    let listen = ApiListen::new(
        cli.clone(),
        ListenOptions {
            min_delay: Duration::from_millis(300),
            max_delay: Duration::from_millis(300),
            ..ListenOptions::default()
        },
    );
    let feed = KeybaseFeed::new(&listen, 3);
    let reader = EventReader::new(Identity::of(&cli).await.unwrap(), None);
    let (tx, mut items) = mpsc::channel(16);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let run_api = Arc::clone(&api);
    let task = tokio::spawn(async move { feed.run(reader, run_api, followed, tx, stop).await });

    // Traffic in both chats from another thread, 60 messages.
    let poster_home = Arc::clone(&s);
    let poster = tokio::task::spawn_blocking(move || {
        let mut ids: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for i in 0..60 {
            let (chat, channel) = CHATS[i % 2];
            // People, and the bridge account's owner on their phone (not an echo).
            let who = if i % 4 < 2 { "bob" } else { "alice:phone" };
            let id = write(
                &poster_home,
                who,
                "send",
                &format!(r#"{channel},"message":{{"body":"traffic {i}"}}"#),
            );
            ids.entry(chat.to_owned()).or_default().push(id);
            std::thread::sleep(Duration::from_millis(30));
        }
        ids
    });

    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut caught_up: Vec<(u32, usize)> = Vec::new();
    let mut deaths = 0;
    let mut traffic_done: Option<BTreeMap<String, Vec<u64>>> = None;
    let mut poster = Some(poster);
    let started = Instant::now();
    loop {
        if poster.as_ref().is_some_and(|p| p.is_finished()) {
            let ids = poster.take().unwrap().await.unwrap();
            for (chat, list) in ids {
                posted.entry(chat).or_default().extend(list);
            }
            traffic_done = Some(posted.clone());
        }
        if let Some(all) = &traffic_done {
            if all
                .iter()
                .all(|(chat, ids)| got.get(chat).is_some_and(|g| g.len() >= ids.len()))
            {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stuck: got {got:?}"
        );
        let item = match tokio::time::timeout(Duration::from_millis(200), items.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => panic!("the feed stopped: {:?}", task.await),
            Err(_) => continue,
        };
        match item {
            FeedItem::Event(e) => {
                let Event::Message(m) = &e.event else {
                    panic!("{:?}", e.event)
                };
                assert_eq!(m.origin.msg.as_str(), e.keybase_id.to_string());
                got.entry(chat_of[&e.conversation_id].clone())
                    .or_default()
                    .push(e.keybase_id);
                let total: usize = got.values().map(Vec::len).sum();
                // Kill api-listen mid-traffic, twice (the second after the first restart).
                let restarted = caught_up.iter().filter(|(r, _)| *r == 1).count() == 2;
                if (deaths == 0 && total >= 12) || (deaths == 1 && restarted && total >= 30) {
                    s.write("listen-die", "");
                    deaths += 1;
                }
            }
            FeedItem::CaughtUp {
                restarts, events, ..
            } => caught_up.push((restarts, events)),
        }
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        got, posted,
        "every message once, in order, per conversation"
    );
    assert_eq!(deaths, 2);
    let first: usize = caught_up
        .iter()
        .filter(|(r, _)| *r == 0)
        .map(|(_, n)| n)
        .sum();
    // The 4 said before it started, and maybe the first of the traffic (the poster starts
    // with the feed).
    assert!(
        first >= 4,
        "the messages said before it started: {caught_up:?}"
    );
    let restarts: BTreeSet<u32> = caught_up.iter().map(|(r, _)| *r).collect();
    assert!(
        restarts.contains(&1) && restarts.contains(&2),
        "{caught_up:?}"
    );
    let gap: usize = caught_up
        .iter()
        .filter(|(r, _)| *r > 0)
        .map(|(_, n)| n)
        .sum();
    assert!(
        gap > 0,
        "something was said while api-listen was dead: {caught_up:?}"
    );
    api.lock().await.close().await;
}
