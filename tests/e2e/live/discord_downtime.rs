//! Discord → Keybase across a SIGKILL: what dana does on Discord while kbbridge is down (an
//! edit, a delete, a reaction) reaches Keybase once after the restart, because kbbridge
//! resumes its gateway session and Discord replays the events it missed.

use std::time::{Duration, Instant};

use bridge_core::{MappingStore, Platform};
use serde_json::Value;

use super::{ARRIVAL, Live, PUSHING};

/// The body of a Keybase message as `read` shows it.
fn body(m: &Value) -> &str {
    m["content"]["text"]["body"].as_str().unwrap_or_default()
}

/// The Keybase copy (by the bridge account) holding `text`: its ID.
fn copy_of(messages: &[Value], text: &str) -> Option<u64> {
    messages
        .iter()
        .find(|m| m["sender"]["username"] == "alice" && body(m).contains(text))
        .and_then(|m| m["id"].as_u64())
}

/// How many `kind` messages (edit, reaction, delete) `read` lists that act on message `id`.
fn acting_on(messages: &[Value], kind: &str, id: u64) -> usize {
    messages
        .iter()
        .filter(|m| m["content"]["type"] == kind)
        .filter(|m| {
            let c = &m["content"];
            c["edit"]["messageID"] == id
                || c["reaction"]["m"] == id
                || c["delete"]["messageIDs"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| *i == id))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_deletes_and_reactions_made_on_discord_while_kbbridge_was_down_reach_keybase_once() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "reactions = \"bot\"").await;
    live.start();
    live.relaying().await;
    let said: Vec<u64> = ["dt1.", "dt2.", "dt3."]
        .iter()
        .map(|b| live.discord().say(b))
        .collect();
    let copies = live
        .on_keybase("dana's three messages", |ms| {
            ["dt1.", "dt2.", "dt3."]
                .iter()
                .map(|b| copy_of(ms, b))
                .collect::<Option<Vec<u64>>>()
        })
        .await;
    // Applied and saved: every event of the session so far (the three messages included).
    let seq = live.discord().standin.gateway_sessions()[0].seq;
    let db = format!("sqlite://{}", live.dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&db).await.unwrap();
    let guild = live.discord().standin.guild_id().to_string();
    let started = Instant::now();
    loop {
        let saved = store
            .target(Platform::Discord, "gateway-session", &guild)
            .await
            .unwrap()
            .and_then(|raw| serde_json::from_str::<Value>(&raw).ok());
        if saved.is_some_and(|s| s["seq"].as_u64() >= Some(seq)) {
            break;
        }
        assert!(started.elapsed() < ARRIVAL, "the session is not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    live.kill();
    // The gateway connection is gone with the process; the session stays resumable.
    let side = live.discord();
    let started = Instant::now();
    while side.standin.gateway_sessions().iter().any(|s| s.connected) {
        assert!(started.elapsed() < ARRIVAL, "the killed connection stays");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = side.standin.gateway_stats();
    assert!(side.standin.edit_as(&side.dana, said[0], "dt1. edited"));
    assert!(side.standin.delete_message(said[1]));
    assert!(side.standin.react_as(&side.dana, said[2], "👍"));

    live.start();
    live.relaying().await;
    live.on_keybase("the edit, the delete and the reaction", |ms| {
        let edited = ms
            .iter()
            .any(|m| m["id"] == copies[0] && body(m).contains("dt1. edited"));
        let deleted = !ms.iter().any(|m| m["id"] == copies[1]);
        let reacted = ms.iter().any(|m| {
            m["id"] == copies[2]
                && m["reactions"]["reactions"][":+1:"]["users"]
                    .as_object()
                    .is_some_and(|u| u.keys().eq(["alice"]))
        });
        (edited && deleted && reacted).then_some(())
    })
    .await;
    let stats = live.discord().standin.gateway_stats();
    assert_eq!(stats.resumes, before.resumes + 1, "resumed: {stats:?}");
    assert_eq!(
        stats.identifies, before.identifies,
        "no new session: {stats:?}"
    );
    // Each once: a second edit, delete or reaction (which would toggle it off) would show in
    // the thread; give a replayed duplicate time to land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ms = live.kb_messages();
    assert_eq!(acting_on(&ms, "edit", copies[0]), 1, "{ms:#?}");
    assert_eq!(acting_on(&ms, "delete", copies[1]), 1, "{ms:#?}");
    assert_eq!(acting_on(&ms, "reaction", copies[2]), 1, "{ms:#?}");
    for b in ["dt1.", "dt3."] {
        let n = ms
            .iter()
            .filter(|m| m["content"]["type"] == "text" && body(m).contains(b))
            .count();
        assert_eq!(n, 1, "{b} on Keybase {n} times: {ms:#?}");
    }
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}
