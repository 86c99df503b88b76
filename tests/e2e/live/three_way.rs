//! Three-way links (Keybase, Discord and Matrix in one `[[link]]`) through `kbbridge run`:
//! an echo storm across the three sides, each kind of event following its message to the two
//! other sides, and SIGKILLs during three-way traffic. Each ends with every message exactly
//! once on every side.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use rand::Rng;
use serde_json::{Value, json};

use super::{ARRIVAL, Live, PUSHING};

/// Bodies: `kb7.` said on Keybase, `dc7.` on Discord, `mx7.` on Matrix (the dot keeps `kb1.`
/// out of `kb10.`).
fn bodies(side: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{side}{i}.")).collect()
}

/// How many of `texts` hold each of `bodies`.
fn counts(texts: &[String], bodies: &[String]) -> Vec<usize> {
    bodies
        .iter()
        .map(|b| texts.iter().filter(|t| t.contains(b.as_str())).count())
        .collect()
}

/// The order in which `bodies` first appear among `texts`.
fn order_of(texts: &[String], bodies: &[String]) -> Vec<usize> {
    let mut seen: Vec<usize> = texts
        .iter()
        .filter_map(|t| bodies.iter().position(|b| t.contains(b.as_str())))
        .collect();
    seen.dedup();
    seen
}

/// The messages of a Matrix timeline (not edits, not redacted), oldest first.
fn matrix_texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
        .filter(|e| !e["unsigned"]["redacted_because"].is_object())
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

impl Live {
    /// Each side's messages now, as text, oldest first: Keybase, Discord, Matrix.
    async fn three_sides(&self, room: &str) -> [Vec<String>; 3] {
        let keybase = self
            .kb_messages()
            .iter()
            .filter_map(|m| m["content"]["text"]["body"].as_str().map(str::to_owned))
            .collect();
        let discord = self
            .discord()
            .messages()
            .into_iter()
            .map(|m| m.content)
            .collect();
        let matrix = matrix_texts(&self.read.messages(room).await.unwrap());
        [keybase, discord, matrix]
    }

    /// Waits until every one of `all` is on every side, then asserts each is there exactly
    /// once (after a quiet second, so a late echo or duplicate is seen), each source's messages
    /// in their order, and none of `gone` anywhere.
    async fn assert_everywhere_once(&mut self, room: &str, all: &[Vec<String>], gone: &[String]) {
        const SIDES: [&str; 3] = ["Keybase", "Discord", "Matrix"];
        let flat: Vec<String> = all.iter().flatten().cloned().collect();
        let started = Instant::now();
        loop {
            self.assert_running();
            let sides = self.three_sides(room).await;
            let complete = sides.iter().all(|texts| {
                counts(texts, &flat).iter().all(|&n| n >= 1)
                    && counts(texts, gone).iter().all(|&n| n == 0)
            });
            if complete {
                break;
            }
            if started.elapsed() > ARRIVAL * 2 {
                let wrong: BTreeMap<&str, (Vec<&String>, Vec<&String>)> = SIDES
                    .iter()
                    .zip(&sides)
                    .map(|(side, texts)| {
                        let missing = flat
                            .iter()
                            .zip(counts(texts, &flat))
                            .filter(|(_, n)| *n == 0)
                            .map(|(b, _)| b)
                            .collect();
                        let left = gone
                            .iter()
                            .zip(counts(texts, gone))
                            .filter(|(_, n)| *n > 0)
                            .map(|(b, _)| b)
                            .collect();
                        (*side, (missing, left))
                    })
                    .collect();
                panic!(
                    "(lost, deleted but still there): {wrong:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sides = self.three_sides(room).await;
        for (side, texts) in SIDES.iter().zip(&sides) {
            let dup: Vec<(&String, usize)> = flat
                .iter()
                .zip(counts(texts, &flat))
                .filter(|(_, n)| *n != 1)
                .collect();
            assert!(
                dup.is_empty(),
                "on {side}, not once: {dup:?}\n{}",
                self.logs()
            );
            for source in all {
                let order = order_of(texts, source);
                assert!(
                    order.windows(2).all(|w| w[0] < w[1]),
                    "order on {side}: {order:?}\n{}",
                    self.logs()
                );
            }
            let left: Vec<usize> = counts(texts, gone);
            assert!(
                left.iter().all(|&n| n == 0),
                "deleted messages still on {side}: {:?}",
                gone.iter()
                    .zip(left)
                    .filter(|(_, n)| *n > 0)
                    .collect::<Vec<_>>()
            );
        }
    }

    /// The Matrix human says each of `bodies` in `room`.
    async fn human_says(&self, room: &str, bodies: &[String]) {
        for b in bodies {
            let text = json!({"msgtype": "m.text", "body": b});
            self.human.send(room, "m.room.message", text).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_storm_across_three_sides_ends_with_each_message_once_everywhere() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", true, "").await;
    live.start();
    let room = live.room().await;
    let (kb, dc, mx) = (bodies("kb", 70), bodies("dc", 70), bodies("mx", 60));
    let keybase = live.keybase();
    let said = kb.clone();
    let on_keybase = std::thread::spawn(move || {
        for b in &said {
            keybase.say("bob", b);
        }
    });
    let said = dc.clone();
    let side = live.discord();
    let (standin, dana, channel) = (side.standin.clone(), side.dana.clone(), side.channel);
    let on_discord = std::thread::spawn(move || {
        for b in &said {
            standin.post_as(&dana, channel, b).unwrap();
        }
    });
    live.human_says(&room, &mx).await;
    on_keybase.join().unwrap();
    on_discord.join().unwrap();
    live.assert_everywhere_once(&room, &[kb, dc, mx], &[]).await;
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_delete_and_reaction_follow_their_message_to_both_other_sides() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", true, "reactions = \"bot\"").await;
    live.start();
    let room = live.room().await;
    let bot = live.discord().standin.bot_id();

    // A Discord message, edited there: the edit reaches Keybase and Matrix.
    let side = live.discord();
    let said = side.say("from discord.");
    assert!(
        side.standin
            .edit_as(&side.dana, said, "from discord, edited.")
    );
    let kb_copy = live
        .on_keybase("the Discord message, edited", |messages| {
            messages
                .iter()
                .find(|m| {
                    m["content"]["text"]["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("from discord, edited."))
                })
                .map(|m| m["id"].as_u64().unwrap())
        })
        .await;
    let mx_copy = live
        .on_matrix(&room, "the Discord message and its edit", |events| {
            let copy = events.iter().find(|e| {
                e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("from discord."))
            })?;
            let id = copy["event_id"].as_str()?;
            events
                .iter()
                .any(|e| {
                    e["content"]["m.relates_to"]["event_id"] == id
                        && e["content"]["m.new_content"]["body"]
                            .as_str()
                            .is_some_and(|b| b.contains("from discord, edited."))
                })
                .then(|| id.to_owned())
        })
        .await;

    // A Keybase reaction on the Discord message's copy: the bot reacts on Discord, carol's
    // ghost on Matrix.
    let react = format!(r#""message_id":{kb_copy},"message":{{"body":":tada:"}}"#);
    live.kb_write("carol", "reaction", &react);
    live.on_discord("carol's reaction", |ms| {
        ms.iter()
            .find(|m| m.id == said)
            .filter(|m| {
                m.reactions
                    .iter()
                    .any(|r| r.emoji == "🎉" && r.users.contains(&bot))
            })
            .map(|_| ())
    })
    .await;
    let carol = live.ghost("carol");
    live.on_matrix(&room, "carol's reaction", |events| {
        events
            .iter()
            .any(|e| {
                e["type"] == "m.reaction"
                    && e["sender"] == carol.as_str()
                    && e["content"]["m.relates_to"]["event_id"] == mx_copy.as_str()
            })
            .then_some(())
    })
    .await;

    // Dana's own reaction on Discord: the bridge account's on Keybase, her ghost's on Matrix.
    let side = live.discord();
    assert!(side.standin.react_as(&side.dana, said, "👍"));
    live.on_keybase("dana's reaction", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == kb_copy)
            .filter(|m| {
                m["reactions"]["reactions"][":+1:"]["users"]
                    .as_object()
                    .is_some_and(|users| users.contains_key("alice"))
            })
            .map(|_| ())
    })
    .await;
    live.on_matrix(&room, "dana's reaction", |events| {
        events
            .iter()
            .any(|e| {
                e["type"] == "m.reaction"
                    && e["sender"] != carol.as_str()
                    && e["content"]["m.relates_to"]["event_id"] == mx_copy.as_str()
                    && e["content"]["m.relates_to"]["key"] == "👍"
            })
            .then_some(())
    })
    .await;

    // Deleted on Discord: gone from Keybase and Matrix.
    assert!(live.discord().standin.delete_message(said));
    live.on_keybase("the Discord message deleted", |messages| {
        (!messages.iter().any(|m| m["id"] == kb_copy)).then_some(())
    })
    .await;
    live.on_matrix(&room, "the Discord message redacted", |events| {
        events
            .iter()
            .any(|e| {
                e["event_id"] == mx_copy.as_str() && e["unsigned"]["redacted_because"].is_object()
            })
            .then_some(())
    })
    .await;
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}

/// Which messages of the SIGKILL test are deleted at their source.
fn deleted(i: usize) -> bool {
    i % 9 == 4
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_three_way_traffic_repeats_and_loses_nothing() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", true, "").await;
    // A short lease: a killed process's links are taken over within 3 s.
    live.env
        .push(("KBBRIDGE__BACKFILL__LEASE_SECONDS".into(), "3".into()));
    live.start();
    let room = live.room().await;
    let (kb, dc, mx) = (bodies("kb", 40), bodies("dc", 40), bodies("mx", 30));
    let keybase = live.keybase();
    let said = kb.clone();
    let on_keybase = std::thread::spawn(move || {
        for (i, b) in said.iter().enumerate() {
            let id = keybase.say("bob", b);
            if deleted(i) {
                keybase.write("bob", "delete", &format!(r#""message_id":{id}"#));
            }
            std::thread::sleep(Duration::from_millis(80));
        }
    });
    let said = dc.clone();
    let side = live.discord();
    let (standin, dana, channel) = (side.standin.clone(), side.dana.clone(), side.channel);
    let on_discord = std::thread::spawn(move || {
        for b in &said {
            // Not deleted here: deletes made on Discord while kbbridge is down are
            // `discord_downtime.rs`'s business (the gateway session resumed).
            standin.post_as(&dana, channel, b).unwrap();
            std::thread::sleep(Duration::from_millis(80));
        }
    });
    let human = live.human.clone();
    let (target, said) = (room.clone(), mx.clone());
    let on_matrix = tokio::spawn(async move {
        for (i, b) in said.iter().enumerate() {
            let text = json!({"msgtype": "m.text", "body": b});
            let id = human.send(&target, "m.room.message", text).await.unwrap();
            if deleted(i) {
                human.redact(&target, &id).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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
    on_keybase.join().unwrap();
    on_discord.join().unwrap();
    on_matrix.await.unwrap();
    let kept = |all: &[String]| -> Vec<String> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| !deleted(*i))
            .map(|(_, b)| b.clone())
            .collect()
    };
    let gone: Vec<String> = [&kb, &mx]
        .iter()
        .flat_map(|all| {
            all.iter()
                .enumerate()
                .filter(|(i, _)| deleted(*i))
                .map(|(_, b)| b.clone())
        })
        .collect();
    live.assert_everywhere_once(&room, &[kept(&kb), dc, kept(&mx)], &gone)
        .await;
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}
