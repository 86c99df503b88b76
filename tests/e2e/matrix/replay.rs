//! The bundled sample replayed onto Synapse and read back: every message once, in order, in
//! rooms and spaces shaped like the teams; a second run sends nothing.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    Bridge, sample_export,
    verify::{expected, verify_room},
};
use crate::support::text;

/// The sample's chats and the aliases kbbridge gives their rooms.
const SAMPLE_ROOMS: [(&str, &str); 4] = [
    ("acme#general", "acme-general"),
    ("acme#random", "acme-random"),
    ("acme.ops#alerts", "acme.ops-alerts"),
    ("alice,bob", "-alice=2cbob"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_export_arrives_once_in_order_with_its_shape_and_reruns_send_nothing() {
    let bridge = Bridge::sample();
    let read = bridge.synapse.read_back();
    let out = bridge.run(&["backfill"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let expected = expected(&sample_export()).await;
    let mut rooms = HashMap::new();
    let mut checked = 0;
    for (chat, alias) in SAMPLE_ROOMS {
        let room = read.alias(&bridge.alias(alias)).await.unwrap();
        checked += verify_room(&bridge, &read, &room, &expected[chat]).await;
        rooms.insert(chat, room);
    }
    assert!(checked >= 60, "only {checked} events");

    // Spaces shaped like the teams: acme ⊃ {general, random, acme.ops ⊃ alerts}; the DM apart.
    let acme = read.alias(&bridge.alias("acme")).await.unwrap();
    let ops = read.alias(&bridge.alias("acme.ops")).await.unwrap();
    let tree = read.hierarchy(&acme).await.unwrap();
    let children = |space: &str| -> Vec<String> {
        let node = tree
            .iter()
            .find(|r| r["room_id"] == space)
            .unwrap_or_else(|| panic!("{space}"));
        let mut c: Vec<String> = node["children_state"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state_key"].as_str().unwrap().to_owned())
            .collect();
        c.sort();
        c
    };
    let mut want = vec![
        rooms["acme#general"].clone(),
        rooms["acme#random"].clone(),
        ops.clone(),
    ];
    want.sort();
    assert_eq!(children(&acme), want);
    assert_eq!(children(&ops), vec![rooms["acme.ops#alerts"].clone()]);
    assert_eq!(
        tree.iter().find(|r| r["room_id"] == acme.as_str()).unwrap()["room_type"],
        "m.space"
    );
    let dm_state = read.state(&rooms["alice,bob"]).await.unwrap();
    let join_rule = dm_state
        .iter()
        .find(|e| e["type"] == "m.room.join_rules")
        .unwrap();
    assert_eq!(join_rule["content"]["join_rule"], "invite");
    for user in ["alice", "bob"] {
        let member = dm_state.iter().find(|e| {
            e["type"] == "m.room.member" && e["state_key"] == bridge.ghost(user).as_str()
        });
        assert_eq!(
            member.map(|m| &m["content"]["membership"]),
            Some(&Value::from("join")),
            "{user}"
        );
    }
    let general_state = read.state(&rooms["acme#general"]).await.unwrap();
    let name = general_state
        .iter()
        .find(|e| e["type"] == "m.room.name")
        .unwrap();
    assert_eq!(name["content"]["name"], "general");

    // A second run sends nothing: not a message, not a membership change.
    let mut before = HashMap::new();
    for room in rooms.values() {
        before.insert(room.clone(), read.messages(room).await.unwrap().len());
    }
    let again = bridge.run(&["backfill"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    for (room, count) in before {
        assert_eq!(
            read.messages(&room).await.unwrap().len(),
            count,
            "{room} changed on re-run"
        );
    }
}
