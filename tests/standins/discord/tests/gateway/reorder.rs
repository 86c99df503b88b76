//! A channel's events held back and released out of order (`hold_dispatches`,
//! `release_dispatches`): numbered as they are sent, other channels unaffected, and replayed
//! by RESUME in the order sent.

use discord_standin::{TEXT, intents};
use serde_json::json;

use super::support::{RELAY_INTENTS, Raw, eventually, start};

const QUERY: &str = "v=10&encoding=json";

#[tokio::test]
async fn a_held_channel_is_released_in_the_given_order_numbered_as_sent() {
    let s = start(intents::PRIVILEGED).await;
    let general = s.create_channel("general", TEXT, None);
    let other = s.create_channel("other", TEXT, None);
    let alice = s.add_human("alice");
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.open(&s, RELAY_INTENTS).await;

    s.hold_dispatches(general);
    let m = s.post_as(&alice, general, "first words").unwrap();
    assert!(s.edit_as(&alice, m, "second words"));
    assert!(s.react_as(&alice, m, "👍"));
    // The world changed at once; only its events wait.
    let held = s.messages(general);
    assert_eq!(held[0].content, "second words");
    assert_eq!(held[0].reactions.len(), 1);

    // Another channel goes on: its event is the session's next (3), so none of the held
    // ones was numbered.
    let o = s.post_as(&alice, other, "elsewhere").unwrap();
    assert_eq!(raw.event("MESSAGE_CREATE", 3).await["id"], o.to_string());
    assert_eq!(
        s.gateway_stats().events,
        1,
        "held events are not published yet"
    );

    // The reaction first, then the create; the update, not named, follows.
    let sent = s.release_dispatches(general, &[2, 0]);
    assert_eq!(
        sent,
        ["MESSAGE_REACTION_ADD", "MESSAGE_CREATE", "MESSAGE_UPDATE"]
    );
    let reaction = raw.event("MESSAGE_REACTION_ADD", 4).await;
    assert_eq!(reaction["message_id"], m.to_string());
    assert_eq!(reaction["emoji"]["name"], "👍");
    let create = raw.event("MESSAGE_CREATE", 5).await;
    assert_eq!(
        (create["id"].as_str(), create["content"].as_str()),
        (Some(m.to_string().as_str()), Some("first words")),
        "each event as it was when it happened"
    );
    let update = raw.event("MESSAGE_UPDATE", 6).await;
    assert_eq!(update["content"], "second words");
    assert_eq!(s.gateway_stats().events, 4);

    // Released: the channel's events flow again, and a channel not held has nothing to send.
    assert!(s.delete_message(m));
    assert_eq!(raw.event("MESSAGE_DELETE", 7).await["id"], m.to_string());
    assert!(s.release_dispatches(general, &[0]).is_empty());
}

#[tokio::test]
async fn released_events_are_replayed_by_resume_in_the_order_sent() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    let ready = raw.open(&s, RELAY_INTENTS).await;
    let session = ready["session_id"].as_str().unwrap().to_owned();

    s.hold_dispatches(channel);
    let m = s.post_as(&alice, channel, "gone soon").unwrap();
    assert!(s.react_as(&alice, m, "🎉"));
    assert!(s.unreact_as(&alice, m, "🎉"));
    assert!(s.delete_message(m));
    // Repeated and out-of-range positions are skipped; the rest follow in their order.
    let sent = s.release_dispatches(channel, &[3, 3, 9, 2]);
    assert_eq!(
        sent,
        [
            "MESSAGE_DELETE",
            "MESSAGE_REACTION_REMOVE",
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD"
        ]
    );
    for (seq, name) in (3..).zip(&sent) {
        raw.event(name, seq).await;
    }

    // A client that saw only the first of them resumes: the rest come again as sent.
    drop(raw);
    eventually("the session is detached", || {
        s.gateway_sessions().iter().all(|x| !x.connected)
    })
    .await;
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.send(&json!({ "op": 6, "d": {
        "token": format!("Bot {}", s.token()), "session_id": session, "seq": 3 } }))
        .await;
    assert_eq!(
        raw.event("MESSAGE_REACTION_REMOVE", 4).await["message_id"],
        m.to_string()
    );
    raw.event("MESSAGE_CREATE", 5).await;
    raw.event("MESSAGE_REACTION_ADD", 6).await;
    assert_eq!(raw.event("RESUMED", 7).await, json!({}));
}
