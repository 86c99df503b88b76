//! Converting pushed events: every kind relayed, and why the others are not.

use bridge_core::Secret;
use serde_json::{Value, json};
use url::Url;

use super::*;

const ROOM: &str = "!room:example.org";

fn client() -> Arc<MatrixClient> {
    let url = Url::parse("http://127.0.0.1:1/").unwrap();
    Arc::new(MatrixClient::new(&url, "example.org", Secret::new("t"), "kbbridge").unwrap())
}

fn ours() -> Ours {
    Ours::new(ruma::UserId::parse("@kbbridge:example.org").unwrap(), "kb_")
}

fn event(kind: &str, sender: &str, content: Value) -> Value {
    json!({
        "type": kind, "event_id": "$ev", "room_id": ROOM, "sender": sender,
        "origin_server_ts": 1_700_000_000_123_u64, "content": content,
    })
}

fn convert_value(v: &Value) -> Converted {
    convert(&v.to_string(), &client(), &ours())
}

fn target(id: &str) -> bridge_core::MsgRef {
    ChatRef::new(Platform::Matrix, ROOM).msg(id)
}

#[test]
fn text_keeps_its_html_and_time() {
    let v = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.text", "body": "hi *you*",
               "format": "org.matrix.custom.html", "formatted_body": "hi <em>you</em>"}),
    );
    let incoming = convert_value(&v).unwrap();
    assert_eq!(incoming.event_id.as_str(), "$ev");
    let Event::Message(m) = incoming.incoming.event else {
        panic!("{incoming:?}")
    };
    assert_eq!(m.origin, target("$ev"));
    assert_eq!(m.sender.id.as_str(), "@bob:example.org");
    assert_eq!(m.sender.name, "bob");
    assert_eq!(m.sent_at.timestamp_millis(), 1_700_000_000_123);
    assert_eq!(m.content.text, "hi *you*");
    assert_eq!(
        m.content.syntax,
        Syntax::MatrixHtml("hi <em>you</em>".into())
    );
    assert_eq!(m.reply_to, None);
}

#[test]
fn a_reply_points_at_its_parent_without_the_quoted_fallback() {
    let v = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.text",
               "body": "> <@kb_alice:example.org> earlier\n> more\n\nmy answer",
               "format": "org.matrix.custom.html",
               "formatted_body": "<mx-reply><blockquote>earlier</blockquote></mx-reply>my <b>answer</b>",
               "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}}}),
    );
    let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
        panic!()
    };
    assert_eq!(m.reply_to, Some(MsgId::new("$parent")));
    assert_eq!(m.content.text, "my answer");
    assert_eq!(
        m.content.syntax,
        Syntax::MatrixHtml("my <b>answer</b>".into())
    );
}

#[test]
fn an_edit_carries_the_new_content() {
    let v = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.text", "body": "* fixed",
               "m.new_content": {"msgtype": "m.text", "body": "fixed"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}),
    );
    let incoming = convert_value(&v).unwrap();
    let Event::Edit {
        target: t,
        content,
        at,
        ..
    } = incoming.incoming.event
    else {
        panic!()
    };
    assert_eq!(t, target("$orig"));
    assert_eq!(content.text, "fixed");
    assert_eq!(at.timestamp_millis(), 1_700_000_000_123);
}

#[test]
fn a_reaction_keeps_its_own_event_id() {
    let v = event(
        "m.reaction",
        "@bob:example.org",
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$msg", "key": "🎉"}}),
    );
    let incoming = convert_value(&v).unwrap();
    assert_eq!(incoming.event_id.as_str(), "$ev");
    let Event::ReactionAdded {
        target: t,
        emoji,
        id,
        ..
    } = incoming.incoming.event
    else {
        panic!()
    };
    assert_eq!((t, emoji.as_str()), (target("$msg"), "🎉"));
    assert_eq!(id, Some(MsgId::new("$ev")), "the annotation's own ID");
}

#[test]
fn redactions_name_their_target_in_every_room_version() {
    // Room versions 11 and later: in the content.
    let v11 = event(
        "m.room.redaction",
        "@bob:example.org",
        json!({"redacts": "$gone"}),
    );
    // Up to 10: at the top level.
    let mut v10 = event("m.room.redaction", "@bob:example.org", json!({}));
    v10["redacts"] = json!("$gone");
    for v in [v11, v10] {
        let Event::Delete { target: t, sender } = convert_value(&v).unwrap().incoming.event else {
            panic!()
        };
        assert_eq!(t, target("$gone"));
        assert_eq!(
            sender.map(|s| s.id.to_string()).as_deref(),
            Some("@bob:example.org")
        );
    }
}

#[test]
fn media_become_attachments_with_captions_names_and_sizes() {
    let v = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.image", "body": "look", "filename": "cat.png",
               "url": "mxc://example.org/abc",
               "info": {"mimetype": "image/png", "size": 1234, "w": 640, "h": 480}}),
    );
    let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
        panic!()
    };
    assert_eq!(m.content.text, "look");
    let a = &m.content.attachments[0];
    assert_eq!(
        (a.name.as_str(), a.mime.as_deref(), a.size, a.dimensions),
        ("cat.png", Some("image/png"), Some(1234), Some((640, 480)))
    );
    assert_eq!(a.data.describe(), "mxc://example.org/abc");
    // Without a filename, the body is the name and there is no caption.
    let v = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.file", "body": "report.pdf", "url": "mxc://example.org/def"}),
    );
    let Event::Message(m) = convert_value(&v).unwrap().incoming.event else {
        panic!()
    };
    assert_eq!(m.content.text, "");
    assert_eq!(m.content.attachments[0].name, "report.pdf");
}

#[test]
fn what_is_not_relayed_says_why() {
    // Unpadded base64 of 32 and 16 bytes.
    const K32: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const IV16: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    let skip = |v: Value| convert_value(&v).unwrap_err().0;
    let own = event(
        "m.room.message",
        "@kb_alice:example.org",
        json!({"msgtype": "m.text", "body": "x"}),
    );
    assert!(skip(own).contains("kbbridge itself"));
    let bot = event(
        "m.room.message",
        "@kbbridge:example.org",
        json!({"msgtype": "m.text", "body": "x"}),
    );
    assert!(skip(bot).contains("kbbridge itself"));
    let mut state = event("m.room.topic", "@bob:example.org", json!({"topic": "t"}));
    state["state_key"] = json!("");
    assert!(skip(state).contains("state event"));
    let encrypted = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.file", "body": "secret.bin", "file": {
            "url": "mxc://example.org/x", "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"],
            "alg": "A256CTR", "k": K32, "ext": true}, "iv": IV16, "hashes": {"sha256": K32},
            "v": "v2"}}),
    );
    let why = skip(encrypted);
    assert!(why.contains("encrypted"), "{why}");
    let location = event(
        "m.room.message",
        "@bob:example.org",
        json!({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}),
    );
    assert!(skip(location).contains("m.location"));
    assert!(skip(json!({"type": "m.room.message"})).contains("unreadable"));
}
