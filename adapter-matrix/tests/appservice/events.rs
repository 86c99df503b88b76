//! A real user's events reach the inbox once, in order, and convert to the right core events.

use super::*;

/// A human posts, replies, edits, reacts, takes the reaction back, sends a file, a notice and
/// an emote; kbbridge meanwhile edits, reacts and redacts as its ghosts. The inbox holds
/// exactly the human's events, once each, in order, and they convert to the right core events.
#[tokio::test]
async fn a_real_users_events_arrive_once_and_convert_and_kbbridges_own_do_not() {
    let _one = PUSHING.lock().await;
    let (env, listening) = env(pushing()).await;
    let room = env.room.as_str();
    let h = &env.human;
    let ghost_msg = env.ghost_msg.as_str();

    let text = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "hello **world**",
                "format": "org.matrix.custom.html", "formatted_body": "hello <b>world</b>",
            }),
        )
        .await
        .unwrap();
    let reply = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("> <{}> from keybase\n\nyes indeed", env.ghost("alice")),
                "m.relates_to": { "m.in_reply_to": { "event_id": ghost_msg } },
            }),
        )
        .await
        .unwrap();
    // kbbridge's own, in between: an edit of its ghost's message, a ghost's reaction.
    env.sink
        .edit(
            &env.room,
            &env.ghost_msg,
            &sender("alice"),
            &Content::plain("from keybase, edited"),
        )
        .await
        .unwrap();
    let ghost_reaction = env
        .sink
        .react(
            &env.room,
            &MsgId::new(text.as_str()),
            &sender("bob"),
            ":+1:",
        )
        .await
        .unwrap()
        .expect("an annotation ID");
    let edit = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "* hello again",
                "m.new_content": { "msgtype": "m.text", "body": "hello again" },
                "m.relates_to": { "rel_type": "m.replace", "event_id": text },
            }),
        )
        .await
        .unwrap();
    let reaction = h
        .send(
            room,
            "m.reaction",
            json!({
                "m.relates_to": { "rel_type": "m.annotation", "event_id": ghost_msg, "key": "👍" },
            }),
        )
        .await
        .unwrap();
    let unreaction = h.redact(room, &reaction).await.unwrap();
    env.sink.delete(&env.room, &ghost_reaction).await.unwrap();
    let bytes = b"line one\nline two\n".to_vec();
    let mxc = h
        .upload("notes.txt", "text/plain", bytes.clone())
        .await
        .unwrap();
    let file = h
        .send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.file", "body": "the notes", "filename": "notes.txt", "url": mxc,
                "info": { "mimetype": "text/plain", "size": bytes.len() },
            }),
        )
        .await
        .unwrap();
    let notice = h
        .send(
            room,
            "m.room.message",
            json!({"msgtype": "m.notice", "body": "fyi"}),
        )
        .await
        .unwrap();
    let emote = h
        .send(
            room,
            "m.room.message",
            json!({"msgtype": "m.emote", "body": "waves"}),
        )
        .await
        .unwrap();
    env.wait_for(&emote).await;

    let waiting = env.inbox().waiting(100).await.unwrap();
    let ids: Vec<String> = waiting
        .iter()
        .map(|w| match &w.event {
            Ok(i) => i.event_id.to_string(),
            Err(skip) => panic!("item {} not converted: {skip}", w.id),
        })
        .collect();
    assert_eq!(
        ids,
        [
            text.clone(),
            reply,
            edit,
            reaction.clone(),
            unreaction,
            file,
            notice,
            emote.clone()
        ],
        "exactly the human's events, once, in order"
    );
    // (The set-up's "ready" is done already.)
    assert_eq!(env.store.inbox_counts(INGRESS).await.unwrap(), (8, 1));
    let events: Vec<&Pushed> = waiting
        .iter()
        .filter_map(|w| w.event.as_ref().ok())
        .collect();
    let chat = ChatRef::new(Platform::Matrix, room);
    let me = UserId::new(h.user_id.as_str());

    let Event::Message(m) = events[0].event() else {
        panic!("{:?}", events[0])
    };
    assert_eq!(m.origin, chat.msg(text.as_str()));
    assert_eq!(m.sender.id, me);
    assert_eq!(m.content.text, "hello **world**");
    assert_eq!(
        m.content.syntax,
        Syntax::MatrixHtml("hello <b>world</b>".into())
    );
    assert_eq!(m.kind, MessageKind::Normal);
    assert!(
        (chrono::Utc::now() - m.sent_at).num_seconds() < 300,
        "{}",
        m.sent_at
    );

    let Event::Message(m) = events[1].event() else {
        panic!("{:?}", events[1])
    };
    assert_eq!(m.reply_to, Some(env.ghost_msg.clone()));
    assert_eq!(m.content.text, "yes indeed", "the reply fallback is gone");

    let Event::Edit {
        target,
        sender,
        content,
        ..
    } = events[2].event()
    else {
        panic!("{:?}", events[2])
    };
    assert_eq!((target, &sender.id), (&chat.msg(text.as_str()), &me));
    assert_eq!(content.text, "hello again");

    let Event::ReactionAdded {
        target,
        sender,
        emoji,
        id,
    } = events[3].event()
    else {
        panic!("{:?}", events[3])
    };
    assert_eq!(
        (target, &sender.id, emoji.as_str()),
        (&chat.msg(ghost_msg), &me, "👍")
    );
    assert_eq!(
        id.as_ref().map(MsgId::as_str),
        Some(reaction.as_str()),
        "the annotation's own ID is kept"
    );
    assert_eq!(events[3].event_id.as_str(), reaction);

    let Event::Delete { target, sender } = events[4].event() else {
        panic!("{:?}", events[4])
    };
    assert_eq!(
        target,
        &chat.msg(reaction.as_str()),
        "the redaction names the reaction"
    );
    assert_eq!(sender.as_ref().map(|s| &s.id), Some(&me));

    let Event::Message(m) = events[5].event() else {
        panic!("{:?}", events[5])
    };
    assert_eq!(m.content.text, "the notes", "the caption");
    let [a] = m.content.attachments.as_slice() else {
        panic!("{:?}", m.content)
    };
    assert_eq!(
        (a.name.as_str(), a.mime.as_deref(), a.size),
        ("notes.txt", Some("text/plain"), Some(bytes.len() as u64))
    );
    assert_eq!(
        a.data.read().await.unwrap(),
        bytes,
        "downloaded from the homeserver"
    );

    let Event::Message(m) = events[6].event() else {
        panic!("{:?}", events[6])
    };
    assert_eq!(
        (m.kind, m.content.text.as_str()),
        (MessageKind::Notice, "fyi")
    );
    let Event::Message(m) = events[7].event() else {
        panic!("{:?}", events[7])
    };
    assert!(
        m.content.text.starts_with("* human") && m.content.text.ends_with(" waves"),
        "{}",
        m.content.text
    );

    // Handled items leave the waiting list.
    for w in &waiting {
        env.inbox().done(w.id).await.unwrap();
    }
    assert_eq!(env.store.inbox_counts(INGRESS).await.unwrap(), (0, 9));
    listening.stop().await;
}
