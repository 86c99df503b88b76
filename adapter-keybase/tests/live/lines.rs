//! api-listen lines as the real client writes them (keybase.md §4, pykeybasebot's
//! `teamchat.json` fixture), and the lines the reader refuses or passes over.

use adapter_keybase::live::{EventReader, Identity, LineError};
use bridge_core::Event;

fn reader() -> EventReader {
    EventReader::new(
        Identity {
            username: "yourbot".into(),
            device: "home thing".into(),
        },
        None,
    )
}

const TEAMCHAT: &str = r#"{"type":"chat","source":"remote","msg":{"id":66,"conversation_id":"00001bca4f13","channel":{"name":"yourcompany.marketing","members_type":"team","topic_type":"chat","topic_name":"lunchtalk"},"sender":{"uid":"7c40f172bfde0622001b89f0775e7319","username":"yourbot","device_id":"c6d6a1d816910093e8554d95e982e118","device_name":"home thing"},"sent_at":1559599057,"sent_at_ms":1559599057477,"content":{"type":"text","text":{"body":"leave a comment over in @yourcompany.marketing#general","payments":null,"userMentions":null,"teamMentions":[{"name":"yourcompany.marketing","channel":"general"}]}},"prev":null,"unread":false,"channel_mention":"none"},"pagination":{"next":"42","previous":"42","num":1,"last":false}}"#;

#[test]
fn a_real_line_becomes_a_message_and_remote_means_another_device() {
    let events = reader().listen_line(TEAMCHAT).unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    // Sent by the bridge account's user from the very device name, yet `remote`: the source
    // decides on api-listen, not the name.
    assert!(!e.local);
    assert_eq!(
        (e.position, e.keybase_id, e.conversation_id.as_str()),
        (66, 66, "00001bca4f13")
    );
    let Event::Message(m) = &e.event else {
        panic!("{:?}", e.event)
    };
    assert_eq!(m.origin.chat.as_str(), "yourcompany.marketing#lunchtalk");
    assert_eq!(
        m.content.text,
        "leave a comment over in @yourcompany.marketing#general"
    );
    assert_eq!(m.sent_at.timestamp_millis(), 1_559_599_057_477);
    let local = TEAMCHAT.replace(r#""source":"remote""#, r#""source":"local""#);
    assert!(reader().listen_line(&local).unwrap()[0].local);
}

#[test]
fn other_lines_are_refused_or_passed_over() {
    let r = reader();
    let err = r
        .listen_line(r#"{"type":"chat","source":"remote","error":"unable to unbox: bad key"}"#)
        .unwrap_err();
    assert!(
        matches!(&err, LineError::Undecryptable(e) if e.contains("unbox")),
        "{err}"
    );
    let err = r.listen_line("not json {\"body\":\"secret\"}").unwrap_err();
    assert!(
        !err.to_string().contains("secret"),
        "no text in errors: {err}"
    );
    assert!(
        r.listen_line(r#"{"type":"chat_conv","conv":{"id":"00ab"}}"#)
            .unwrap()
            .is_empty()
    );
    assert!(
        r.listen_line(r#"{"type":"wallet","source":"payment","notification":{}}"#)
            .unwrap()
            .is_empty()
    );
    let join = line(67, r#"{"type":"join"}"#);
    assert!(
        r.listen_line(&join).unwrap().is_empty(),
        "joins are not relayed"
    );
}

fn line(id: u64, content: &str) -> String {
    TEAMCHAT
        .replacen(r#""id":66"#, &format!(r#""id":{id}"#), 1)
        .replace(
            r#"{"type":"text","text":{"body":"leave a comment over in @yourcompany.marketing#general","payments":null,"userMentions":null,"teamMentions":[{"name":"yourcompany.marketing","channel":"general"}]}}"#,
            content,
        )
}

#[test]
fn deletes_are_expanded_by_what_the_reader_saw() {
    let r = reader();
    let reaction = line(
        70,
        r#"{"type":"reaction","reaction":{"m":66,"b":":+1:","e":null}}"#,
    );
    assert!(matches!(
        r.listen_line(&reaction).unwrap()[0].event,
        Event::ReactionAdded { .. }
    ));
    let edit = line(
        71,
        r#"{"type":"edit","edit":{"messageID":66,"body":"b","userMentions":null,"teamMentions":null,"emojis":null}}"#,
    );
    assert!(matches!(
        r.listen_line(&edit).unwrap()[0].event,
        Event::Edit { .. }
    ));
    // The message deleted with its edit, its reaction seen, and one made before kbbridge
    // watched (69): one Delete.
    let delete = line(
        72,
        r#"{"type":"delete","delete":{"messageIDs":[66,69,70,71]}}"#,
    );
    let events = r.listen_line(&delete).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(&events[0].event, Event::Delete { target, .. } if target.msg.as_str() == "66")
    );
    assert_eq!((events[0].position, events[0].keybase_id), (72, 66));
    // An un-reaction the reader did not see react: a Delete of the reaction's id, for the
    // relay to resolve by its ID map.
    let unknown = line(73, r#"{"type":"delete","delete":{"messageIDs":[60]}}"#);
    let events = r.listen_line(&unknown).unwrap();
    assert!(
        matches!(&events[0].event, Event::Delete { target, .. } if target.msg.as_str() == "60")
    );
    // One it saw: a ReactionRemoved naming who had reacted.
    let again = line(
        74,
        r#"{"type":"reaction","reaction":{"m":60,"b":":tada:","e":null}}"#,
    );
    r.listen_line(&again).unwrap();
    let undo = line(75, r#"{"type":"delete","delete":{"messageIDs":[74]}}"#);
    let events = r.listen_line(&undo).unwrap();
    assert!(
        matches!(&events[0].event, Event::ReactionRemoved { target, emoji, sender, id } if target.msg.as_str() == "60" && emoji == ":tada:" && sender.name == "yourbot" && id.as_ref().is_some_and(|i| i.as_str() == "74")),
        "{events:?}"
    );
    assert_eq!(events[0].keybase_id, 74);
}
