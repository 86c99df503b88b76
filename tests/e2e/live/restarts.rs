//! Traffic both ways while things break: an echo storm, SIGKILL at random moments, api-listen
//! dying, and a `both` link whose chats are busy during the backfill and while kbbridge is
//! down. Each ends with every message exactly once on the other side, in order.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use rand::Rng;
use serde_json::{Value, json};

use super::{ARRIVAL, Live, PUSHING, messages_from};

/// Keybase message bodies: `kb7.`; Matrix ones: `mx7.` (the dot keeps `kb1.` out of `kb10.`).
pub(super) fn kb_body(i: usize) -> String {
    format!("kb{i}.")
}
pub(super) fn mx_body(i: usize) -> String {
    format!("mx{i}.")
}

/// How many times each body of `bodies` is in the room, as a message (not an edit) of `sender`.
/// A message edited before kbbridge read it arrives edited (`kb6. edited`): `read` folds edits
/// into their message, so it counts under its first word.
pub(super) fn matrix_counts(events: &[Value], sender: &str, bodies: &[String]) -> Vec<usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in messages_from(events, sender) {
        if e["content"]["m.relates_to"]["rel_type"] == "m.replace" {
            continue;
        }
        if let Some(b) = e["content"]["body"].as_str() {
            let first = b.split(' ').next().unwrap_or(b);
            *counts.entry(first).or_default() += 1;
        }
    }
    bodies
        .iter()
        .map(|b| counts.get(b.as_str()).copied().unwrap_or(0))
        .collect()
}

/// How many of the bridge account's Keybase messages hold each of `bodies`.
pub(super) fn keybase_counts(messages: &[Value], bodies: &[String]) -> Vec<usize> {
    let texts: Vec<&str> = messages
        .iter()
        .filter(|m| m["sender"]["username"] == "alice")
        .filter_map(|m| m["content"]["text"]["body"].as_str())
        .collect();
    bodies
        .iter()
        .map(|b| texts.iter().filter(|t| t.contains(b.as_str())).count())
        .collect()
}

/// The order in which `bodies` first appear among `texts`.
pub(super) fn order_of(texts: &[&str], bodies: &[String]) -> Vec<usize> {
    let mut seen: Vec<usize> = texts
        .iter()
        .filter_map(|t| bodies.iter().position(|b| t.contains(b.as_str())))
        .collect();
    seen.dedup();
    seen
}

impl Live {
    /// Waits until each of `kb` is on Matrix from bob's ghost and each of `mx` on Keybase from
    /// the bridge account, then asserts each is there exactly once and in order.
    async fn assert_each_once(&mut self, room: &str, kb: &[String], mx: &[String]) {
        let bob = self.ghost("bob");
        let started = Instant::now();
        loop {
            let events = self.read.messages(room).await.unwrap();
            let messages = self.kb_messages();
            let on_matrix = matrix_counts(&events, &bob, kb);
            let on_keybase = keybase_counts(&messages, mx);
            if on_matrix.iter().chain(&on_keybase).all(|&n| n >= 1) {
                let dup_m: Vec<_> = kb.iter().zip(&on_matrix).filter(|(_, n)| **n > 1).collect();
                let dup_k: Vec<_> = mx
                    .iter()
                    .zip(&on_keybase)
                    .filter(|(_, n)| **n > 1)
                    .collect();
                assert!(
                    dup_m.is_empty(),
                    "duplicated on Matrix: {dup_m:?}\n{}",
                    self.logs()
                );
                assert!(
                    dup_k.is_empty(),
                    "duplicated on Keybase: {dup_k:?}\n{}",
                    self.logs()
                );
                let texts: Vec<&str> = messages_from(&events, &bob)
                    .filter_map(|e| e["content"]["body"].as_str())
                    .collect();
                let order = order_of(&texts, kb);
                assert!(
                    order.windows(2).all(|w| w[0] < w[1]),
                    "Matrix order: {order:?}"
                );
                let texts: Vec<&str> = messages
                    .iter()
                    .filter_map(|m| m["content"]["text"]["body"].as_str())
                    .collect();
                let order = order_of(&texts, mx);
                assert!(
                    order.windows(2).all(|w| w[0] < w[1]),
                    "Keybase order: {order:?}"
                );
                return;
            }
            if started.elapsed() > ARRIVAL * 2 {
                let lost_m: Vec<_> = kb
                    .iter()
                    .zip(&on_matrix)
                    .filter(|(_, n)| **n == 0)
                    .collect();
                let lost_k: Vec<_> = mx
                    .iter()
                    .zip(&on_keybase)
                    .filter(|(_, n)| **n == 0)
                    .collect();
                panic!(
                    "lost: on Matrix {lost_m:?}, on Keybase {lost_k:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The human says each of `bodies` in `room`, `gap` apart.
    async fn matrix_says(&self, room: &str, bodies: &[String], gap: Duration) {
        for b in bodies {
            self.human
                .send(
                    room,
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": b}),
                )
                .await
                .unwrap();
            tokio::time::sleep(gap).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_storm_ends_with_each_message_once_on_each_side() {
    let _one = PUSHING.lock().await;
    let mut live = Live::new("relay").await;
    live.start();
    let room = live.room().await;
    let kb: Vec<String> = (0..100).map(kb_body).collect();
    let mx: Vec<String> = (0..100).map(mx_body).collect();
    let keybase = live.keybase();
    let bodies = kb.clone();
    let posting = std::thread::spawn(move || {
        for b in &bodies {
            keybase.say("bob", b);
        }
    });
    live.matrix_says(&room, &mx, Duration::ZERO).await;
    posting.join().unwrap();
    live.assert_each_once(&room, &kb, &mx).await;
    let events = live.read.messages(&room).await.unwrap();
    assert_eq!(
        messages_from(&events, &live.ghost("alice")).count(),
        0,
        "nothing the bridge account posted came back"
    );
    assert_eq!(live.stop(), Some(0));
}

/// Which of the SIGKILL test's messages are edited, reacted to and deleted.
fn kb_edited(i: usize) -> bool {
    i.is_multiple_of(6)
}
fn kb_reacted(i: usize) -> bool {
    i.is_multiple_of(7)
}
fn kb_deleted(i: usize) -> bool {
    i % 11 == 5
}
fn mx_edited(j: usize) -> bool {
    j % 4 == 1
}
fn mx_deleted(j: usize) -> bool {
    j % 5 == 2
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_traffic_both_ways_repeats_and_loses_nothing() {
    let _one = PUSHING.lock().await;
    // A short lease: a killed process's links are taken over within 3 s.
    let mut live = Live::with("relay", &[], "[backfill]\nlease_seconds = 3\n").await;
    live.start();
    let room = live.room().await;
    let kb: Vec<String> = (0..60).map(kb_body).collect();
    let mx: Vec<String> = (0..40).map(mx_body).collect();
    // Keybase traffic: messages, some edited, some reacted to by carol, some deleted.
    let keybase = live.keybase();
    let bodies = kb.clone();
    let posting = std::thread::spawn(move || {
        for (i, b) in bodies.iter().enumerate() {
            let id = keybase.say("bob", b);
            if kb_edited(i) {
                let edit = format!(r#""message_id":{id},"message":{{"body":"{b} edited"}}"#);
                keybase.write("bob", "edit", &edit);
            }
            if kb_reacted(i) {
                let react = format!(r#""message_id":{id},"message":{{"body":"🎉"}}"#);
                keybase.write("carol", "reaction", &react);
            }
            if kb_deleted(i) {
                keybase.write("bob", "delete", &format!(r#""message_id":{id}"#));
            }
            std::thread::sleep(Duration::from_millis(60));
        }
    });
    // Matrix traffic: messages, some edited, some redacted.
    let human = live.human.clone();
    let (target, bodies) = (room.clone(), mx.clone());
    let saying = tokio::spawn(async move {
        for (j, b) in bodies.iter().enumerate() {
            let text = json!({"msgtype": "m.text", "body": b});
            let id = human.send(&target, "m.room.message", text).await.unwrap();
            if mx_edited(j) {
                let edit = json!({
                    "msgtype": "m.text", "body": format!("* {b} edited"),
                    "m.new_content": {"msgtype": "m.text", "body": format!("{b} edited")},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": id},
                });
                human.send(&target, "m.room.message", edit).await.unwrap();
            }
            if mx_deleted(j) {
                human.redact(&target, &id).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(90)).await;
        }
    });
    for _ in 0..5 {
        let (up, down) = {
            let mut rng = rand::rng();
            (rng.random_range(300..1500), rng.random_range(50..500))
        };
        tokio::time::sleep(Duration::from_millis(up)).await;
        live.kill();
        tokio::time::sleep(Duration::from_millis(down)).await;
        live.start();
    }
    posting.join().unwrap();
    saying.await.unwrap();

    // Each message that stands is on the other side once, in order; each deleted one is not.
    let kb_kept: Vec<String> = (0..60).filter(|&i| !kb_deleted(i)).map(kb_body).collect();
    let mx_kept: Vec<String> = (0..40).filter(|&j| !mx_deleted(j)).map(mx_body).collect();
    live.assert_each_once(&room, &kb_kept, &mx_kept).await;
    let kb_gone: Vec<String> = (0..60).filter(|&i| kb_deleted(i)).map(kb_body).collect();
    let mx_gone: Vec<String> = (0..40).filter(|&j| mx_deleted(j)).map(mx_body).collect();
    let bob = live.ghost("bob");
    live.on_matrix(&room, "bob's deleted messages gone", |events| {
        matrix_counts(events, &bob, &kb_gone)
            .iter()
            .all(|&n| n == 0)
            .then_some(())
    })
    .await;
    live.on_keybase("the redacted Matrix messages gone", |messages| {
        keybase_counts(messages, &mx_gone)
            .iter()
            .all(|&n| n == 0)
            .then_some(())
    })
    .await;
    // Matrix edits: applied to the copy on Keybase.
    let mx_new: Vec<String> = (0..40)
        .filter(|&j| mx_edited(j) && !mx_deleted(j))
        .map(|j| format!("{} edited", mx_body(j)))
        .collect();
    live.on_keybase("the Matrix edits", |messages| {
        keybase_counts(messages, &mx_new)
            .iter()
            .all(|&n| n == 1)
            .then_some(())
    })
    .await;

    // Keybase edits and reactions: each applied exactly once to its copy.
    let carol = live.ghost("carol");
    let events = live.read.messages(&room).await.unwrap();
    let copy_of = |body: &str| -> &Value {
        messages_from(&events, &bob)
            .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
            .find(|e| {
                e["content"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(body)
            })
            .unwrap()
    };
    for (i, b) in kb.iter().enumerate().filter(|(i, _)| !kb_deleted(*i)) {
        let copy = copy_of(b);
        let id = copy["event_id"].as_str().unwrap();
        let relates = |e: &&Value| e["content"]["m.relates_to"]["event_id"] == id;
        let edits = messages_from(&events, &bob)
            .filter(relates)
            .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
            .count();
        let reactions = events
            .iter()
            .filter(|e| e["type"] == "m.reaction" && e["sender"] == carol.as_str())
            .filter(relates)
            .count();
        if kb_edited(i) {
            // Relayed as an edit once, or (kbbridge down meanwhile) read back with the edit
            // folded in, the edit then applied at most once more.
            let folded = copy["content"]["body"] == format!("{b} edited").as_str();
            assert!(
                edits == 1 || (folded && edits == 0),
                "{b}: {edits} edits, body {}\n{}",
                copy["content"]["body"],
                live.logs()
            );
        } else {
            assert_eq!(edits, 0, "edits of {b}");
        }
        assert_eq!(
            reactions,
            usize::from(kb_reacted(i)),
            "reactions on {b}\n{}",
            live.logs()
        );
    }
    assert_eq!(live.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dying_api_listen_is_restarted_and_its_gap_caught_up() {
    let _one = PUSHING.lock().await;
    let mut live = Live::new("relay").await;
    live.start();
    let room = live.room().await;
    let kb: Vec<String> = (0..30).map(kb_body).collect();
    let keybase = live.keybase();
    for (i, b) in kb.iter().enumerate() {
        if i % 10 == 5 {
            // The running api-listen exits as if the service went away; kbbridge restarts it
            // and catches up what was said meanwhile.
            std::fs::write(live.kb_home.join("listen-die"), "").unwrap();
        }
        keybase.say("bob", b);
    }
    live.assert_each_once(&room, &kb, &[]).await;
    let logs = live.logs();
    assert!(
        logs.contains("restarts=1") || logs.contains("restarts=2"),
        "api-listen was restarted:\n{logs}"
    );
    assert_eq!(live.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_both_link_relays_what_was_said_during_the_backfill_and_the_downtime() {
    let _one = PUSHING.lock().await;
    // A history of 40 messages, copied slowly enough that live traffic overlaps the backfill.
    let history = super::carol_history(2..42);
    let pace = "[backfill.rate.matrix]\nmessages_per_second = 8\nburst = 1\n";
    let mut live = Live::with("both", &history, pace).await;
    live.export();
    live.start();
    let room = live.room().await;
    // During the backfill: both sides talk.
    let kb_during: Vec<String> = (0..5).map(kb_body).collect();
    let mx_during: Vec<String> = (0..5).map(mx_body).collect();
    for b in &kb_during {
        live.keybase().say("bob", b);
    }
    live.matrix_says(&room, &mx_during, Duration::from_millis(50))
        .await;
    live.assert_each_once(&room, &kb_during, &mx_during).await;

    // The history came first, whole and in order, then what was said during it.
    let carol = live.ghost("carol");
    let events = live.read.messages(&room).await.unwrap();
    let old: Vec<String> = (2..42).map(|id| format!("old{id}.")).collect();
    assert!(matrix_counts(&events, &carol, &old).iter().all(|&n| n == 1));
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    let last_old = texts.iter().rposition(|t| *t == "old41.").unwrap();
    let first_live = texts.iter().position(|t| *t == "kb0.").unwrap();
    assert!(
        last_old < first_live,
        "the history before the live messages: {texts:?}"
    );

    // While kbbridge is down: both sides talk; all of it arrives after the restart.
    assert_eq!(live.stop(), Some(0));
    let kb_down: Vec<String> = (5..10).map(kb_body).collect();
    let mx_down: Vec<String> = (5..10).map(mx_body).collect();
    for b in &kb_down {
        live.keybase().say("bob", b);
    }
    live.matrix_says(&room, &mx_down, Duration::ZERO).await;
    live.start();
    let kb_all: Vec<String> = (0..10).map(kb_body).collect();
    let mx_all: Vec<String> = (0..10).map(mx_body).collect();
    live.assert_each_once(&room, &kb_all, &mx_all).await;
    let events = live.read.messages(&room).await.unwrap();
    assert!(
        matrix_counts(&events, &carol, &old).iter().all(|&n| n == 1),
        "the history once"
    );
    assert_eq!(live.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_renamed_while_kbbridge_was_down_is_found_by_its_id() {
    let _one = PUSHING.lock().await;
    let mut live = Live::new("relay").await;
    live.start();
    let room = live.room().await;
    live.keybase().say("bob", "kb0.");
    live.assert_each_once(&room, &[kb_body(0)], &[]).await;
    assert_eq!(live.stop(), Some(0));

    // Renamed on Keybase meanwhile: same conversation, the topic `general` is now `main`.
    let list = live.kb("alice", "list", r#""topic_type":"chat""#);
    let id = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let state = &live.kb_home;
    std::fs::write(
        state.join("conversations.json"),
        format!(r#"[{{"name": "acme", "topic_name": "main", "id": "{id}"}}]"#),
    )
    .unwrap();
    std::fs::rename(
        state.join("messages/acme#general.jsonl"),
        state.join("messages/acme#main.jsonl"),
    )
    .unwrap();
    let main = r#""channel":{"name":"acme","members_type":"team","topic_name":"main"}"#;
    live.keybase()
        .write_in(main, "bob", "send", r#""message":{"body":"kb1."}"#);
    live.channel = main.to_owned();

    live.start();
    live.relaying().await;
    live.matrix_says(&room, &[mx_body(0)], Duration::ZERO).await;
    live.assert_each_once(&room, &[kb_body(0), kb_body(1)], &[mx_body(0)])
        .await;
    assert!(
        live.logs().contains("was renamed"),
        "the rename is reported"
    );
    assert_eq!(live.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_created_while_relaying_is_linked_by_its_pattern() {
    let _one = PUSHING.lock().await;
    let links =
        "[[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\nmatrix = \"auto\"\nmode = \"relay\"";
    let mut live = Live::with_links(links, &[], "").await;
    live.env
        .push(("KBBRIDGE__KEYBASE__WATCH_SECONDS".into(), "1".into()));
    live.start();
    let general = live.room().await;
    live.keybase().say("bob", "kb0.");
    live.assert_each_once(&general, &[kb_body(0)], &[]).await;

    // A channel made on Keybase now, with a first message before kbbridge notices it.
    std::fs::write(
        live.kb_home.join("conversations.json"),
        r#"[{"name": "acme", "topic_name": "general"}, {"name": "acme", "topic_name": "new"}]"#,
    )
    .unwrap();
    let new = r#""channel":{"name":"acme","members_type":"team","topic_name":"new"}"#;
    live.keybase()
        .write_in(new, "bob", "send", r#""message":{"body":"first in new"}"#);
    let room = live.room_of("acme#new").await;
    let bob = live.ghost("bob");
    live.on_matrix(&room, "the new channel's first message", |events| {
        super::event_with_body(events, &bob, "first in new").map(|_| ())
    })
    .await;
    // Both ways in the new room.
    live.matrix_says(&room, &[mx_body(0)], Duration::ZERO).await;
    live.channel = new.to_owned();
    live.on_keybase("the Matrix message in the new channel", |messages| {
        (keybase_counts(messages, &[mx_body(0)]) == [1]).then_some(())
    })
    .await;
    assert!(live.logs().contains("new Keybase channel linked"));
    assert_eq!(live.stop(), Some(0));
}
