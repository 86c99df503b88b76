//! The gateway protocol through a bare WebSocket client: HELLO, IDENTIFY, READY and
//! GUILD_CREATE, heartbeats, events from REST and from humans, content blanking, RESUME, the
//! tests' op 7 / op 9 / close / drop, and Discord's close codes.

use std::time::Duration;

use discord_standin::{SessionInfo, TEXT, intents};
use serde_json::{Value, json};
use serenity::{
    builder::{CreateMessage, CreateWebhook, EditWebhookMessage, ExecuteWebhook},
    model::{
        channel::ReactionType,
        id::{ChannelId, MessageId},
    },
};

use super::support::{End, HEARTBEAT_MS, RELAY_INTENTS, Raw, eventually, http, start};

const QUERY: &str = "v=10&encoding=json";

#[tokio::test]
async fn identify_gets_ready_then_guild_create_and_heartbeats_are_acked() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let last = s
        .post_as(&alice, channel, "before anyone listened")
        .unwrap();

    let (mut raw, hello) = Raw::connect(&s, QUERY).await;
    assert_eq!(hello["heartbeat_interval"], HEARTBEAT_MS);
    // A heartbeat before IDENTIFY is answered too.
    raw.send(&json!({ "op": 1, "d": null })).await;
    assert_eq!(raw.recv().await["op"], 11);

    raw.identify(s.token(), RELAY_INTENTS).await;
    let ready = raw.event("READY", 1).await;
    assert_eq!(ready["v"], 10);
    assert_eq!(ready["user"]["id"], s.bot_id().to_string());
    assert_eq!(
        ready["guilds"],
        json!([{ "id": s.guild_id().to_string(), "unavailable": true }])
    );
    assert_eq!(
        ready["resume_gateway_url"],
        format!("ws://{}", s.gateway_addr())
    );
    assert_eq!(ready["shard"], json!([0, 1]));
    // GATEWAY_PRESENCE, GATEWAY_GUILD_MEMBERS and GATEWAY_MESSAGE_CONTENT: all granted.
    assert_eq!(
        ready["application"]["flags"],
        (1 << 12) | (1 << 14) | (1 << 18)
    );
    let session = ready["session_id"].as_str().unwrap().to_owned();

    let guild = raw.event("GUILD_CREATE", 2).await;
    assert_eq!(guild["id"], s.guild_id().to_string());
    let general = guild["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str().and_then(|i| i.parse().ok()) == Some(channel))
        .unwrap();
    assert_eq!(general["last_message_id"], last.to_string());
    assert_eq!(guild["members"][0]["user"]["id"], s.bot_id().to_string());

    raw.send(&json!({ "op": 1, "d": 2 })).await;
    assert_eq!(
        raw.recv().await,
        json!({ "op": 11, "d": null, "s": null, "t": null })
    );
    assert_eq!(
        s.gateway_sessions(),
        vec![SessionInfo {
            id: session,
            intents: RELAY_INTENTS,
            seq: 2,
            connected: true,
        }]
    );
    let stats = s.gateway_stats();
    assert_eq!(
        (stats.connections, stats.identifies, stats.heartbeats),
        (1, 1, 2)
    );

    // A zombie gateway: heartbeats go unanswered while acks are paused.
    s.pause_heartbeat_acks(true);
    raw.send(&json!({ "op": 1, "d": 2 })).await;
    assert_eq!(raw.next_within(Duration::from_millis(300)).await, None);
    s.pause_heartbeat_acks(false);
    raw.send(&json!({ "op": 1, "d": 2 })).await;
    assert_eq!(raw.recv().await["op"], 11);
}

#[tokio::test]
async fn rest_calls_and_humans_become_numbered_events() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let http = http(&s);
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.open(&s, RELAY_INTENTS).await;

    // A human posts: their user, a member, the guild.
    let m1 = s.post_as(&alice, channel, "hi from alice").unwrap();
    let d = raw.event("MESSAGE_CREATE", 3).await;
    assert_eq!(d["id"], m1.to_string());
    assert_eq!(d["content"], "hi from alice");
    assert_eq!(d["author"]["id"], alice.id.to_string());
    assert_eq!(d["author"]["username"], "alice");
    assert_eq!(d["author"].get("bot"), None);
    assert_eq!(d["member"]["roles"], json!([]));
    assert_eq!(d["guild_id"], s.guild_id().to_string());
    assert_eq!(d["webhook_id"], Value::Null);

    // A webhook posts through REST: `webhook_id` set, the webhook as author, no member.
    let hook = ChannelId::new(channel)
        .create_webhook(&http, CreateWebhook::new("kbbridge"))
        .await
        .unwrap();
    let execute = ExecuteWebhook::new()
        .content("relayed")
        .username("bob (keybase)");
    let sent = hook.execute(&http, true, execute).await.unwrap().unwrap();
    let d = raw.event("MESSAGE_CREATE", 4).await;
    assert_eq!(d["id"], sent.id.to_string());
    assert_eq!(d["webhook_id"], hook.id.to_string());
    assert_eq!(d["author"]["id"], hook.id.to_string());
    assert_eq!(d["author"]["username"], "bob (keybase)");
    assert_eq!(d.get("member"), None);

    // Its edit through REST: the whole message, with an edit time.
    let edit = EditWebhookMessage::new().content("relayed, edited");
    hook.edit_message(&http, sent.id, edit).await.unwrap();
    let d = raw.event("MESSAGE_UPDATE", 5).await;
    assert_eq!(d["content"], "relayed, edited");
    assert!(d["edited_timestamp"].is_string(), "{d}");

    // The bot reacts to the human's message; a second identical PUT tells no one.
    let thumbs = ReactionType::Unicode("👍".into());
    let (c, m) = (ChannelId::new(channel), MessageId::new(m1));
    http.create_reaction(c, m, &thumbs).await.unwrap();
    http.create_reaction(c, m, &thumbs).await.unwrap();
    let d = raw.event("MESSAGE_REACTION_ADD", 6).await;
    assert_eq!(d["user_id"], s.bot_id().to_string());
    assert_eq!(d["emoji"], json!({ "id": null, "name": "👍" }));
    assert_eq!(d["message_author_id"], alice.id.to_string());
    assert_eq!(d["member"]["user"]["id"], s.bot_id().to_string());

    // The human edits, reacts to the relayed message and takes it back.
    assert!(s.edit_as(&alice, m1, "hi, edited"));
    assert!(!s.edit_as(&alice, sent.id.get(), "not theirs"));
    let d = raw.event("MESSAGE_UPDATE", 7).await;
    assert_eq!(
        (d["id"].as_str(), d["content"].as_str()),
        (Some(&*m1.to_string()), Some("hi, edited"))
    );
    assert!(s.react_as(&alice, sent.id.get(), "🎉"));
    let d = raw.event("MESSAGE_REACTION_ADD", 8).await;
    assert_eq!(d["user_id"], alice.id.to_string());
    assert_eq!(d["member"]["user"]["username"], "alice");
    assert_eq!(d["message_author_id"], hook.id.to_string());
    assert!(s.unreact_as(&alice, sent.id.get(), "🎉"));
    let d = raw.event("MESSAGE_REACTION_REMOVE", 9).await;
    assert_eq!(d["user_id"], alice.id.to_string());
    assert_eq!(d["emoji"]["name"], "🎉");

    // Deletions: the webhook's message through REST, a bulk delete, one by hand.
    hook.delete_message(&http, None, sent.id).await.unwrap();
    let d = raw.event("MESSAGE_DELETE", 10).await;
    assert_eq!(
        d,
        json!({ "id": sent.id.to_string(), "channel_id": channel.to_string(),
            "guild_id": s.guild_id().to_string() })
    );
    let m2 = s.post_as(&alice, channel, "two").unwrap();
    let m3 = s.post_as(&alice, channel, "three").unwrap();
    raw.event("MESSAGE_CREATE", 11).await;
    raw.event("MESSAGE_CREATE", 12).await;
    assert_eq!(
        s.bulk_delete(channel, &[m2, m3, sent.id.get()]),
        vec![m2, m3]
    );
    let d = raw.event("MESSAGE_DELETE_BULK", 13).await;
    assert_eq!(d["ids"], json!([m2.to_string(), m3.to_string()]));
    assert!(s.delete_message(m1));
    assert_eq!(raw.event("MESSAGE_DELETE", 14).await["id"], m1.to_string());

    // The bot's own message through REST: the bot as author, with its member.
    let own = c
        .send_message(&http, CreateMessage::new().content("from the bot"))
        .await
        .unwrap();
    let d = raw.event("MESSAGE_CREATE", 15).await;
    assert_eq!(d["id"], own.id.to_string());
    assert_eq!(d["author"]["id"], s.bot_id().to_string());
    assert_eq!(d["author"]["bot"], true);
    // Thirteen events published (READY and GUILD_CREATE are the session's own).
    assert_eq!(s.gateway_stats().events, 13);
}

#[tokio::test]
async fn events_follow_the_sessions_intents_and_content_is_blanked_without_message_content() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let http = http(&s);
    let (mut full, _) = Raw::connect(&s, QUERY).await;
    full.open(&s, RELAY_INTENTS).await;
    let (mut blind, _) = Raw::connect(&s, QUERY).await;
    blind.open(&s, intents::GUILD_MESSAGES).await;

    let m = s.post_as(&alice, channel, "secret words").unwrap();
    assert_eq!(
        full.event("MESSAGE_CREATE", 3).await["content"],
        "secret words"
    );
    let d = blind.event("MESSAGE_CREATE", 3).await;
    assert_eq!(
        (d["content"].as_str(), &d["embeds"], &d["attachments"]),
        (Some(""), &json!([]), &json!([]))
    );
    assert_eq!(d["author"]["id"], alice.id.to_string());

    // Reactions only reach the session with GUILD_MESSAGE_REACTIONS: `blind`'s next event
    // is the edit.
    assert!(s.react_as(&alice, m, "👍"));
    full.event("MESSAGE_REACTION_ADD", 4).await;
    assert!(s.edit_as(&alice, m, "still secret"));
    assert_eq!(
        full.event("MESSAGE_UPDATE", 5).await["content"],
        "still secret"
    );
    assert_eq!(blind.event("MESSAGE_UPDATE", 4).await["content"], "");

    // Kept for the bot's own messages and for messages that mention the bot.
    ChannelId::new(channel)
        .send_message(&http, CreateMessage::new().content("the bot speaks"))
        .await
        .unwrap();
    assert_eq!(
        full.event("MESSAGE_CREATE", 6).await["content"],
        "the bot speaks"
    );
    assert_eq!(
        blind.event("MESSAGE_CREATE", 5).await["content"],
        "the bot speaks"
    );
    let hey = format!("hey <@{}>", s.bot_id());
    s.post_as(&alice, channel, &hey).unwrap();
    full.event("MESSAGE_CREATE", 7).await;
    let d = blind.event("MESSAGE_CREATE", 6).await;
    assert_eq!(d["content"], hey);
    assert_eq!(d["mentions"][0]["id"], s.bot_id().to_string());
}

#[tokio::test]
async fn a_bad_token_closes_4004_and_an_ungranted_privileged_intent_4014() {
    let s = start(intents::GUILD_MEMBERS).await;
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.identify("not-the-token", RELAY_INTENTS).await;
    assert_eq!(raw.end().await, End::Closed(4004));

    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.identify(s.token(), RELAY_INTENTS).await;
    assert_eq!(raw.end().await, End::Closed(4014));

    // Without the privileged intent the same application is welcome.
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    let ready = raw
        .open(&s, RELAY_INTENTS & !intents::MESSAGE_CONTENT)
        .await;
    assert_eq!(ready["application"]["flags"], 1 << 14);
    assert_eq!(
        s.gateway_stats().closes.into_iter().collect::<Vec<_>>(),
        vec![(4004, 1), (4014, 1)]
    );
}

#[tokio::test]
async fn resume_replays_what_was_missed_then_resumed() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    let ready = raw.open(&s, RELAY_INTENTS).await;
    let session = ready["session_id"].as_str().unwrap().to_owned();
    let first = s.post_as(&alice, channel, "seen").unwrap();
    raw.event("MESSAGE_CREATE", 3).await;

    // The client goes away without a close frame; the session lives on and keeps numbering.
    drop(raw);
    eventually("the session is detached", || {
        s.gateway_sessions().iter().all(|x| !x.connected)
    })
    .await;
    let missed = [
        s.post_as(&alice, channel, "missed 1").unwrap(),
        s.post_as(&alice, channel, "missed 2").unwrap(),
    ];
    assert!(s.delete_message(first));

    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.send(&json!({ "op": 6, "d": {
        "token": format!("Bot {}", s.token()), "session_id": session, "seq": 3 } }))
        .await;
    assert_eq!(
        raw.event("MESSAGE_CREATE", 4).await["id"],
        missed[0].to_string()
    );
    assert_eq!(
        raw.event("MESSAGE_CREATE", 5).await["id"],
        missed[1].to_string()
    );
    assert_eq!(
        raw.event("MESSAGE_DELETE", 6).await["id"],
        first.to_string()
    );
    assert_eq!(raw.event("RESUMED", 7).await, json!({}));
    s.post_as(&alice, channel, "live again").unwrap();
    assert_eq!(
        raw.event("MESSAGE_CREATE", 8).await["content"],
        "live again"
    );
    let stats = s.gateway_stats();
    assert_eq!((stats.identifies, stats.resumes), (1, 1));

    // A seq the session never reached closes 4007.
    let (mut other, _) = Raw::connect(&s, QUERY).await;
    other
        .send(&json!({ "op": 6, "d": {
            "token": s.token(), "session_id": session, "seq": 99 } }))
        .await;
    assert_eq!(other.end().await, End::Closed(4007));

    // A clean close (1000) ends the session: resuming it gets op 9, not resumable.
    raw.close(1000).await;
    eventually("the session is gone", || s.gateway_sessions().is_empty()).await;
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.send(&json!({ "op": 6, "d": {
        "token": s.token(), "session_id": session, "seq": 8 } }))
        .await;
    assert_eq!(
        raw.recv().await,
        json!({ "op": 9, "d": false, "s": null, "t": null })
    );
    assert_eq!(s.gateway_stats().resumes_refused, 1);
}

#[tokio::test]
async fn tests_can_force_reconnect_invalid_session_close_and_drop() {
    let s = start(intents::PRIVILEGED).await;
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    let first = raw.open(&s, RELAY_INTENTS).await;

    assert_eq!(s.force_reconnect(), 1);
    assert_eq!(
        raw.recv().await,
        json!({ "op": 7, "d": null, "s": null, "t": null })
    );
    assert_eq!(s.force_invalid_session(true), 1);
    assert_eq!(raw.recv().await["d"], true);
    assert_eq!(s.gateway_sessions().len(), 1);

    // Not resumable: the session is gone at once, and the client may identify again on the
    // same connection.
    assert_eq!(s.force_invalid_session(false), 1);
    assert_eq!(
        raw.recv().await,
        json!({ "op": 9, "d": false, "s": null, "t": null })
    );
    assert!(s.gateway_sessions().is_empty());
    let second = raw.open(&s, RELAY_INTENTS).await;
    assert_ne!(first["session_id"], second["session_id"]);

    assert_eq!(s.close_gateway_connections(4000), 1);
    assert_eq!(raw.end().await, End::Closed(4000));
    eventually("the closed connection is gone", || {
        s.gateway_sessions().iter().all(|x| !x.connected)
    })
    .await;
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.open(&s, RELAY_INTENTS).await;
    assert_eq!(s.drop_gateway_connections(), 1);
    assert_eq!(raw.end().await, End::Dropped);
    // Both sessions are still there to resume.
    assert_eq!(s.gateway_sessions().len(), 2);
    // Nothing live is left to disturb.
    eventually("no connection is live", || {
        s.gateway_sessions().iter().all(|x| !x.connected)
    })
    .await;
    assert_eq!(s.force_reconnect(), 0);
}

#[tokio::test]
async fn protocol_mistakes_close_with_discords_codes() {
    let s = start(intents::PRIVILEGED).await;
    let cases: [(&str, Value, u16); 4] = [
        ("an unknown opcode", json!({ "op": 99, "d": null }), 4001),
        ("not JSON", json!("not a payload"), 4002),
        (
            "a presence update before IDENTIFY",
            json!({ "op": 3, "d": {} }),
            4003,
        ),
        (
            "an IDENTIFY without intents",
            json!({ "op": 2, "d": { "token": "x" } }),
            4002,
        ),
    ];
    for (what, payload, code) in cases {
        let (mut raw, _) = Raw::connect(&s, QUERY).await;
        match payload {
            Value::String(text) => raw.send_text(text).await,
            p => raw.send(&p).await,
        }
        assert_eq!(raw.end().await, End::Closed(code), "{what}");
    }

    // A second IDENTIFY, and a payload over 4096 bytes.
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.open(&s, RELAY_INTENTS).await;
    raw.identify(s.token(), RELAY_INTENTS).await;
    assert_eq!(raw.end().await, End::Closed(4005));
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.send(&json!({ "op": 1, "d": "x".repeat(5000) })).await;
    assert_eq!(raw.end().await, End::Closed(4002));

    // The URL: API version 10 only, JSON only, no transport compression.
    for (query, code) in [
        ("v=9&encoding=json", 4012),
        ("v=10&encoding=etf", 4002),
        ("v=10&encoding=json&compress=zlib-stream", 4000),
    ] {
        let mut raw = Raw::connect_only(&s, query).await;
        assert_eq!(raw.end().await, End::Closed(code), "{query}");
    }
}
