use serde_json::{Value, json};

use super::*;

const CHANNEL: u64 = 500;
const BOT: u64 = 900;
const HOOK: u64 = 700;

fn user(id: u64, name: &str, global: Option<&str>) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": global, "avatar": null})
}

fn msg(id: u64, author: Value, content: &str) -> Value {
    json!({
        "id": id.to_string(), "channel_id": CHANNEL.to_string(), "guild_id": "1",
        "author": author, "content": content, "timestamp": "2024-05-01T10:00:00+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
    })
}

fn event(t: &str, d: Value) -> GatewayEvent {
    let frame = json!({"op": 0, "s": 5, "t": t, "d": d});
    match serde_json::from_value::<serenity::model::event::GatewayEvent>(frame).unwrap() {
        serenity::model::event::GatewayEvent::Dispatch(_, e) => e,
        other => panic!("not a dispatch: {other:?}"),
    }
}

fn ours() -> Ours {
    Ours {
        bot: BOT,
        hook: Some(HOOK),
    }
}

fn one(e: GatewayEvent) -> Incoming {
    let mut v = convert(e, ours(), &reqwest::Client::new(), &GuildNames::default());
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

#[test]
fn a_message_with_nick_reply_and_file() {
    let mut d = msg(10, user(3, "ann", Some("Ann A")), "hi **there**");
    d["member"] = json!({"nick": "annie", "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false});
    d["type"] = json!(19);
    d["message_reference"] =
        json!({"type": 0, "message_id": "9", "channel_id": CHANNEL.to_string()});
    d["attachments"] = json!([{"id": "77", "filename": "a.png", "size": 12, "url": "http://127.0.0.1/attachments/a.png", "proxy_url": "http://x", "content_type": "image/png", "width": 4, "height": 3}]);
    let got = one(event("MESSAGE_CREATE", d));
    assert!(!got.own);
    assert_eq!(got.position.as_ref().map(Cursor::as_str), Some("10"));
    let Event::Message(m) = got.event else {
        panic!()
    };
    assert_eq!(m.origin.chat.as_str(), "500");
    assert_eq!(m.origin.msg.as_str(), "10");
    assert_eq!(m.sender.name, "annie");
    assert_eq!(m.sender.id.as_str(), "3");
    assert_eq!(m.content.text, "hi **there**");
    assert_eq!(m.content.syntax, Syntax::Discord);
    assert_eq!(m.reply_to.as_ref().map(MsgId::as_str), Some("9"));
    assert_eq!(m.content.attachments.len(), 1);
    assert_eq!(m.content.attachments[0].name, "a.png");
    assert_eq!(m.content.attachments[0].dimensions, Some((4, 3)));
}

#[test]
fn display_name_then_username() {
    let got = one(event(
        "MESSAGE_CREATE",
        msg(11, user(3, "ann", Some("Ann A")), "x"),
    ));
    let Event::Message(m) = got.event else {
        panic!()
    };
    assert_eq!(m.sender.name, "Ann A");
    let got = one(event("MESSAGE_CREATE", msg(12, user(3, "ann", None), "x")));
    let Event::Message(m) = got.event else {
        panic!()
    };
    assert_eq!(m.sender.name, "ann");
}

#[test]
fn own_by_webhook_id_or_bot_author_not_by_name() {
    let mut d = msg(20, user(HOOK, "kbbridge", None), "copy");
    d["webhook_id"] = json!(HOOK.to_string());
    assert!(one(event("MESSAGE_CREATE", d)).own);
    // Another webhook, even one named like kbbridge's, is someone else's.
    let mut d = msg(21, user(701, "kbbridge", None), "other");
    d["webhook_id"] = json!("701");
    assert!(!one(event("MESSAGE_CREATE", d)).own);
    assert!(
        one(event(
            "MESSAGE_CREATE",
            msg(22, user(BOT, "bot", None), "b")
        ))
        .own
    );
}

#[test]
fn only_real_edits() {
    let mut d = msg(30, user(3, "ann", None), "new");
    d["edited_timestamp"] = json!("2024-05-01T10:05:00+00:00");
    let got = one(event("MESSAGE_UPDATE", d));
    let Event::Edit {
        target,
        content,
        sender,
        ..
    } = got.event
    else {
        panic!()
    };
    assert_eq!(target.msg.as_str(), "30");
    assert_eq!(content.text, "new");
    assert_eq!(sender.name, "ann");
    assert!(got.position.is_none());
    // An embed-only update: no edit time.
    let d = json!({"id": "30", "channel_id": CHANNEL.to_string(), "embeds": []});
    assert!(
        convert(
            event("MESSAGE_UPDATE", d),
            ours(),
            &reqwest::Client::new(),
            &GuildNames::default()
        )
        .is_empty()
    );
}

#[test]
fn bulk_delete_each_in_order() {
    let d = json!({"ids": ["42", "40", "41"], "channel_id": CHANNEL.to_string(), "guild_id": "1"});
    let got = convert(
        event("MESSAGE_DELETE_BULK", d),
        ours(),
        &reqwest::Client::new(),
        &GuildNames::default(),
    );
    let ids: Vec<&str> = got.iter().map(|i| i.event.subject().msg.as_str()).collect();
    assert_eq!(ids, ["40", "41", "42"]);
}

#[test]
fn reactions_unicode_and_custom() {
    let r = |user: u64, emoji: Value| {
        json!({"user_id": user.to_string(), "channel_id": CHANNEL.to_string(), "message_id": "10",
               "guild_id": "1", "emoji": emoji, "burst": false, "type": 0})
    };
    let got = one(event(
        "MESSAGE_REACTION_ADD",
        r(3, json!({"id": null, "name": "👍"})),
    ));
    assert!(matches!(&got.event, Event::ReactionAdded { emoji, .. } if emoji == "👍"));
    assert!(!got.own);
    let got = one(event(
        "MESSAGE_REACTION_REMOVE",
        r(BOT, json!({"id": "55", "name": "party"})),
    ));
    assert!(matches!(&got.event, Event::ReactionRemoved { emoji, .. } if emoji == ":party:"));
    assert!(got.own);
}
