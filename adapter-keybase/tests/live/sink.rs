//! The Keybase sink against the stand-in: a relayed message with its author line and reply,
//! an edit, a reaction that never toggles the bridge account's own off, un-react, a file, a
//! file that could not be had, a reply of files alone, a delete (twice), finding a sent part
//! again, `check`.

use std::sync::Arc;

use adapter_keybase::{config::DEFAULT_SENDER_FORMAT, sink::KeybaseSink};
use bridge_core::{
    AdapterError, Attachment, ChatId, Content, Message, MessageKind, Mode, MsgId, MsgRef, Outgoing,
    Platform, Sender, Sink, Syntax, UserId, model::MemoryBlob,
};
use chrono::Utc;

use super::{
    standin::Client,
    world::{self, general_msg, read_general},
};

fn matrix_message(id: &str, who: &str, text: &str, attachments: Vec<Attachment>) -> Message {
    Message {
        origin: MsgRef {
            platform: Platform::Matrix,
            chat: ChatId::new("!room:example.org"),
            msg: MsgId::new(id),
        },
        sender: sender(who),
        sent_at: Utc::now(),
        kind: MessageKind::Normal,
        content: Content {
            text: text.to_owned(),
            syntax: Syntax::Plain,
            attachments,
        },
        reply_to: None,
        reactions: Vec::new(),
        edited: false,
    }
}

fn sender(who: &str) -> Sender {
    Sender {
        id: UserId::new(format!("@{who}:example.org")),
        name: who.to_owned(),
        avatar: None,
    }
}

fn out<'a>(
    msg: &'a Message,
    part: u32,
    reply_to: Option<&'a MsgId>,
    earlier: &'a [MsgId],
) -> Outgoing<'a> {
    Outgoing {
        msg,
        part,
        reply_to,
        earlier,
        mode: Mode::Live,
    }
}

fn id_of(id: &MsgId) -> u64 {
    id.as_str().parse().unwrap()
}

#[tokio::test]
async fn messages_edits_reactions_and_deletes_go_in_as_the_bridge_account() {
    let s = world::build();
    let sink = KeybaseSink::with_cli(s.cli(), DEFAULT_SENDER_FORMAT).unwrap();
    let general = ChatId::new("acme#general");
    sink.check(&general).await.unwrap();

    let msg = matrix_message("$a", "Mallory M", "hi @everyone, see *this*", Vec::new());
    assert_eq!(sink.parts(&msg), 1);
    let parent = MsgId::new("1");
    let sent = sink
        .send(&general, out(&msg, 0, Some(&parent), &[]))
        .await
        .unwrap();
    let copy = general_msg(&s, id_of(&sent)).unwrap();
    assert_eq!(
        copy["content"]["text"]["body"], "**Mallory M** (Matrix): hi @\u{200b}everyone, see *this*",
        "author shown, @everyone defused"
    );
    assert_eq!(copy["content"]["text"]["replyTo"], 1);
    assert_eq!(
        (
            copy["sender"]["username"].as_str(),
            copy["sender"]["device_name"].as_str()
        ),
        (Some("alice"), Some("laptop"))
    );

    // Found again after a crash; a message never sent is not.
    assert_eq!(
        sink.find_sent(&general, out(&msg, 0, Some(&parent), &[]))
            .await
            .unwrap(),
        Some(sent.clone())
    );
    let other = matrix_message("$b", "Mallory M", "never sent", Vec::new());
    assert_eq!(
        sink.find_sent(&general, out(&other, 0, None, &[]))
            .await
            .unwrap(),
        None
    );

    // Edit: the same author line, the new text.
    sink.edit(
        &general,
        &sent,
        &sender("Mallory M"),
        &Content::plain("hi all"),
    )
    .await
    .unwrap();
    let copy = general_msg(&s, id_of(&sent)).unwrap();
    assert_eq!(
        copy["content"]["text"]["body"],
        "**Mallory M** (Matrix): hi all"
    );

    // React: the reaction message's id; a second person's same reaction does not toggle the
    // account's off, it is the same reaction.
    let r1 = sink
        .react(&general, &sent, &sender("Mallory M"), "👍")
        .await
        .unwrap()
        .unwrap();
    let users = |s: &super::standin::StandIn| {
        general_msg(s, id_of(&sent)).unwrap()["reactions"]["reactions"][":+1:"]["users"].clone()
    };
    assert_eq!(users(&s)["alice"]["reactionMsgID"], id_of(&r1));
    let r2 = sink
        .react(&general, &sent, &sender("Trent T"), "👍")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r2, r1);
    assert_eq!(
        users(&s)["alice"]["reactionMsgID"],
        id_of(&r1),
        "still there"
    );
    // Un-react deletes exactly that reaction message.
    let mallory = sender("Mallory M");
    sink.unreact(&general, &sent, &mallory, "👍", Some(&r1))
        .await
        .unwrap();
    assert!(users(&s).is_null(), "{}", users(&s));
    sink.unreact(&general, &sent, &mallory, "👍", Some(&r1))
        .await
        .unwrap();
    // Without the reaction's id, the account's own reaction on the message is found.
    sink.react(&general, &sent, &mallory, "👍").await.unwrap();
    assert!(!users(&s)["alice"].is_null());
    sink.unreact(&general, &sent, &mallory, "👍", None)
        .await
        .unwrap();
    assert!(users(&s).is_null(), "{}", users(&s));

    // Delete: gone; again: done.
    sink.delete(&general, &sent).await.unwrap();
    assert!(general_msg(&s, id_of(&sent)).is_none());
    sink.delete(&general, &sent).await.unwrap();
    // Editing or reacting to what is gone is refused, not retried.
    let err = sink
        .react(&general, &sent, &sender("Trent T"), "🎉")
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Rejected { .. }), "{err:?}");
}

#[tokio::test]
async fn files_are_attached_and_a_missing_one_leaves_a_note() {
    let s = world::build();
    let sink = KeybaseSink::with_cli(s.cli(), DEFAULT_SENDER_FORMAT).unwrap();
    let dm = ChatId::new("alice,bob");
    let file = Attachment {
        name: "notes.txt".into(),
        mime: Some("text/plain".into()),
        size: Some(5),
        dimensions: None,
        data: Arc::new(MemoryBlob(b"NOTES".to_vec())),
    };
    let missing = Attachment::unavailable(
        "big.iso",
        Some(1 << 30),
        "it is larger than the homeserver allows",
    );
    let msg = matrix_message("$f", "Dave", "two files", vec![file, missing]);
    assert_eq!(sink.parts(&msg), 3);
    assert_eq!(
        sink.degraded(&msg),
        ["big.iso (1.0 GiB) was not copied: it is larger than the homeserver allows"]
    );
    let mut earlier = Vec::new();
    for part in 0..3 {
        let id = sink
            .send(&dm, out(&msg, part, None, &earlier))
            .await
            .unwrap();
        earlier.push(id);
    }
    let read =
        s.api(&[r#"{"method":"read","params":{"options":{"channel":{"name":"alice,bob"}}}}"#]);
    let msgs: Vec<&serde_json::Value> = read[0]["result"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["msg"])
        .collect();
    let by_id = |id: &MsgId| *msgs.iter().find(|m| m["id"] == id_of(id)).unwrap();
    assert_eq!(
        by_id(&earlier[0])["content"]["text"]["body"],
        "**Dave** (Matrix): two files"
    );
    let attached = &by_id(&earlier[1])["content"]["attachment"]["object"];
    assert_eq!(
        (attached["filename"].as_str(), attached["title"].as_str()),
        (Some("notes.txt"), Some("**Dave** (Matrix): notes.txt"))
    );
    assert_eq!(attached["size"], 5);
    assert_eq!(
        by_id(&earlier[2])["content"]["text"]["body"],
        "**Dave** (Matrix): 📎 big.iso (1.0 GiB) was not copied: it is larger than the homeserver allows"
    );
    let out_file = s.home().join("downloaded.txt");
    let got = s.api(&[&format!(
        r#"{{"method":"download","params":{{"options":{{"channel":{{"name":"alice,bob"}},"message_id":{},"output":"{}"}}}}}}"#,
        id_of(&earlier[1]),
        out_file.display()
    )]);
    assert!(got[0]["error"].is_null(), "{}", got[0]);
    assert_eq!(std::fs::read(&out_file).unwrap(), b"NOTES");
    // The file part is found again by name and caption, after the part before it.
    assert_eq!(
        sink.find_sent(&dm, out(&msg, 1, None, &earlier[..1]))
            .await
            .unwrap(),
        Some(earlier[1].clone())
    );
    assert!(read_general(&s).len() == 1, "nothing went to another chat");
}

#[tokio::test]
async fn a_chat_the_account_cannot_use_is_fatal_and_bad_formats_are_refused() {
    let s = world::build();
    let sink = KeybaseSink::with_cli(s.cli(), DEFAULT_SENDER_FORMAT).unwrap();
    let err = sink.check(&ChatId::new("acme#nope")).await.unwrap_err();
    assert!(matches!(err, AdapterError::Fatal(_)), "{err:?}");
    assert!(err.to_string().contains("acme#nope"), "{err}");
    let err = KeybaseSink::with_cli(s.cli(), "{name} says").unwrap_err();
    assert!(
        err.contains("sender_format") && err.contains("{text}"),
        "{err}"
    );
}

#[tokio::test]
async fn an_edit_keeps_the_author_line_of_any_format() {
    let s = world::build();
    let sink = KeybaseSink::with_cli(s.cli(), "{text} (from {name} on {platform})").unwrap();
    let general = ChatId::new("acme#general");
    let msg = Message {
        origin: MsgRef {
            platform: Platform::Discord,
            chat: ChatId::new("123"),
            msg: MsgId::new("456"),
        },
        ..matrix_message("$x", "Eve", "first take", Vec::new())
    };
    let sent = sink.send(&general, out(&msg, 0, None, &[])).await.unwrap();
    assert_eq!(
        general_msg(&s, id_of(&sent)).unwrap()["content"]["text"]["body"],
        "first take (from Eve on Discord)"
    );
    sink.edit(
        &general,
        &sent,
        &sender("Eve"),
        &Content::plain("second take"),
    )
    .await
    .unwrap();
    assert_eq!(
        general_msg(&s, id_of(&sent)).unwrap()["content"]["text"]["body"],
        "second take (from Eve on Discord)"
    );
    // Someone else's message is not a copy of Eve's: refused, not rewritten.
    let err = sink
        .edit(
            &general,
            &MsgId::new("1"),
            &sender("Eve"),
            &Content::plain("x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Rejected { .. }), "{err:?}");
    assert_eq!(
        general_msg(&s, 1).unwrap()["content"]["text"]["body"],
        "first"
    );
}

#[tokio::test]
async fn a_reply_of_files_alone_keeps_its_link_in_a_text_part() {
    let s = world::build();
    let sink = KeybaseSink::with_cli(s.cli(), DEFAULT_SENDER_FORMAT).unwrap();
    let general = ChatId::new("acme#general");
    let file = Attachment {
        name: "diagram.png".into(),
        mime: Some("image/png".into()),
        size: Some(3),
        dimensions: None,
        data: Arc::new(MemoryBlob(b"PNG".to_vec())),
    };
    let mut msg = matrix_message("$r", "Dana", "", vec![file]);
    // Not a reply: the file alone.
    assert_eq!(sink.parts(&msg), 1);
    msg.reply_to = Some(MsgId::new("$parent"));
    assert_eq!(sink.parts(&msg), 2);
    let parent = MsgId::new("1");
    let mut earlier = Vec::new();
    for part in 0..2 {
        let id = sink
            .send(&general, out(&msg, part, Some(&parent), &earlier))
            .await
            .unwrap();
        earlier.push(id);
    }
    let text = general_msg(&s, id_of(&earlier[0])).unwrap();
    assert_eq!(text["content"]["text"]["replyTo"], 1, "{text}");
    assert_eq!(
        text["content"]["text"]["body"],
        "**Dana** (Matrix): 📎 diagram.png"
    );
    let file = general_msg(&s, id_of(&earlier[1])).unwrap();
    assert_eq!(
        file["content"]["attachment"]["object"]["filename"],
        "diagram.png"
    );
    assert_eq!(
        sink.find_sent(&general, out(&msg, 0, Some(&parent), &[]))
            .await
            .unwrap(),
        Some(earlier[0].clone())
    );
}
