//! The sink's live side against the stand-in, driven through the relay engine as the product
//! drives it: live copies notify but never ping `@everyone`, `@here` or a role; edits rewrite
//! every text part (adding or deleting parts as the text grows or shrinks); deletes remove
//! every part; a copy the channel's webhook did not send is refused with a reason.

mod common;

use std::sync::Arc;

use bridge_core::{
    AdapterError, Attachment, Content, Event, Sink, model::MemoryBlob, relay::Applied,
};
use chrono::{TimeZone, Utc};
use common::{
    backfill, chat, kb,
    relay::{id, live, person},
    rig,
};
use discord_standin::{Limits, RecordedMessage};

/// A message text of `words` words, without markup, in several Discord parts when long.
fn words(n: usize, tag: &str) -> String {
    (0..n)
        .map(|i| format!("{tag}{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn edit(target: &bridge_core::MsgRef, text: &str, at: i64) -> Event {
    Event::Edit {
        target: target.clone(),
        sender: person("alice"),
        content: Content::plain(text),
        at: Utc.timestamp_opt(1_700_000_000 + at, 0).unwrap(),
    }
}

fn message(r: &common::Rig, channel: u64, id: u64) -> RecordedMessage {
    r.standin
        .messages(channel)
        .into_iter()
        .find(|m| m.id == id)
        .unwrap()
}

#[tokio::test]
async fn live_copies_notify_but_never_everyone_here_or_roles_and_backfill_stays_silent() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let role = r.standin.add_role("mods", 0);
    let c = chat("acme#general");
    let text = format!("@everyone @here <@&{role}> and <@4242> look");
    backfill(
        &r.store,
        r.sink(),
        vec![(c.clone(), vec![kb(&c, 1, &text)], channel)],
    )
    .await;
    let old = &r.standin.messages(channel)[0];
    assert_eq!(old.flags & 4096, 4096, "a backfilled copy is silent");
    assert!(old.pinged.is_empty(), "{:?}", old.pinged);

    let mut l = live(&r.store, r.sink(), c.clone(), channel);
    let mut msg = kb(&c, 2, &text);
    msg.content.attachments = vec![Attachment {
        name: "notes.txt".into(),
        mime: None,
        size: Some(5),
        dimensions: None,
        data: Arc::new(MemoryBlob(b"hello".to_vec())),
    }];
    assert_eq!(
        l.apply(Event::Message(msg.clone())).await,
        Applied::Relayed(1)
    );
    let parts = l.parts(&msg.origin).await;
    assert_eq!(parts.len(), 1);
    let new = message(&r, channel, parts[0]);
    assert_eq!(new.flags & 4096, 0, "a live copy notifies");
    assert_eq!(new.pinged, vec!["user:4242".to_owned()], "{}", new.content);
    assert!(
        new.content.contains(&format!("<@&{role}>")),
        "{}",
        new.content
    );
    assert!(
        !new.content.starts_with("<t:"),
        "no original time: {}",
        new.content
    );
    assert_eq!(new.author_name, "alice");
    assert_eq!(new.files.len(), 1);
    assert_eq!(new.files[0].bytes, b"hello");
}

#[tokio::test]
async fn an_edit_rewrites_a_one_part_copy_and_keeps_a_backfilled_time() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let old = kb(&c, 1, "first words");
    backfill(
        &r.store,
        r.sink(),
        vec![(c.clone(), vec![old.clone()], channel)],
    )
    .await;
    let mut l = live(&r.store, r.sink(), c.clone(), channel);
    let msg = kb(&c, 2, "hello there");
    l.apply(Event::Message(msg.clone())).await;

    assert_eq!(
        l.apply(edit(&msg.origin, "hello again", 1)).await,
        Applied::Relayed(1)
    );
    assert_eq!(
        l.apply(edit(&old.origin, "better words", 2)).await,
        Applied::Relayed(1)
    );

    let live_copy = message(&r, channel, l.parts(&msg.origin).await[0]);
    // Discord marks the copy "(edited)" itself (`edited`); the text carries no marker.
    assert_eq!(live_copy.content, "hello again");
    assert!(live_copy.edited.is_some());
    let old_copy = message(&r, channel, l.parts(&old.origin).await[0]);
    // What the backfill put before the text stays: the day separator and the original time.
    let t = old.sent_at.timestamp();
    let head = format!("**── <t:{t}:D> ──**\n<t:{t}:f> ");
    assert_eq!(old_copy.content, format!("{head}better words"));
    assert_eq!(
        r.standin.messages(channel).len(),
        2,
        "edits send nothing new"
    );
}

#[tokio::test]
async fn a_long_edit_grows_to_three_parts_and_shrinks_back_to_one() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let mut l = live(&r.store, r.sink(), c.clone(), channel);
    let msg = kb(&c, 1, "short");
    l.apply(Event::Message(msg.clone())).await;
    let first = l.parts(&msg.origin).await;

    let long = words(1000, "w");
    assert_eq!(
        l.apply(edit(&msg.origin, &long, 1)).await,
        Applied::Relayed(1)
    );
    let parts = l.parts(&msg.origin).await;
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(parts[0], first[0], "the first part is edited, not replaced");
    let texts: Vec<String> = parts
        .iter()
        .map(|p| message(&r, channel, *p).content)
        .collect();
    assert!(texts.iter().all(|t| t.chars().count() <= 2000));
    assert!(texts.iter().all(|t| !t.contains("(edited)")));
    let joined = texts.join(" ");
    assert!(
        joined.split_whitespace().eq(long.split_whitespace()),
        "text reassembles"
    );

    assert_eq!(
        l.apply(edit(&msg.origin, "short again", 2)).await,
        Applied::Relayed(1)
    );
    assert_eq!(l.parts(&msg.origin).await, vec![first[0]]);
    assert_eq!(message(&r, channel, first[0]).content, "short again");
    for p in &parts[1..] {
        assert!(message(&r, channel, *p).deleted, "surplus part {p} deleted");
    }
    let shown: Vec<_> = r
        .standin
        .messages(channel)
        .into_iter()
        .filter(|m| !m.deleted)
        .collect();
    assert_eq!(shown.len(), 1);
}

#[tokio::test]
async fn a_delete_removes_every_part_and_a_part_already_gone_is_done() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let sink = r.sink();
    let mut l = live(&r.store, sink.clone(), c.clone(), channel);
    let msg = kb(&c, 1, &words(1000, "d"));
    l.apply(Event::Message(msg.clone())).await;
    let parts = l.parts(&msg.origin).await;
    assert_eq!(parts.len(), 3);
    // One part deleted by hand on Discord first: the delete still completes.
    assert!(r.standin.delete_message(parts[1]));
    let delete = Event::Delete {
        target: msg.origin.clone(),
        sender: None,
    };
    assert_eq!(l.apply(delete).await, Applied::Relayed(1));
    for p in &parts {
        assert!(message(&r, channel, *p).deleted, "part {p} deleted");
    }
    sink.delete(&l.to(), &id(parts[0])).await.unwrap();
}

#[tokio::test]
async fn a_message_the_webhook_did_not_send_is_refused_for_edits_and_deleted_by_the_bot() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let sink = r.sink();
    sink.check(&common::relay::live(&r.store, sink.clone(), c, channel).to())
        .await
        .unwrap();
    let bob = r.standin.add_human("bob");
    let theirs = r.standin.post_as(&bob, channel, "bob's own").unwrap();
    let to = bridge_core::ChatId::new(channel.to_string());
    let err = sink
        .edit(&to, &id(theirs), &person("alice"), &Content::plain("x"))
        .await
        .unwrap_err();
    match err {
        AdapterError::Rejected { reason } => {
            assert!(
                reason.contains("not sent by this channel's kbbridge webhook"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(message(&r, channel, theirs).content, "bob's own");
    sink.delete(&to, &id(theirs)).await.unwrap();
    assert!(message(&r, channel, theirs).deleted);
    let err = sink
        .edit(&to, &id(theirs), &person("alice"), &Content::plain("x"))
        .await
        .unwrap_err();
    assert!(format!("{err}").contains("was deleted on Discord"), "{err}");
}

#[tokio::test]
async fn a_text_part_an_edit_added_is_found_after_a_crash() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let sink = r.sink();
    let to = bridge_core::ChatId::new(channel.to_string());
    let mut msg = kb(&c, 1, &words(1000, "f"));
    msg.edited = true;
    let count = sink.text_parts(&msg);
    assert_eq!(count, 3);
    let part = |index| bridge_core::TextPart {
        msg: &msg,
        index,
        count,
        part: 5 + index,
    };
    assert_eq!(sink.find_text(&to, part(2)).await.unwrap(), None);
    let sent = sink.send_text(&to, part(2)).await.unwrap();
    assert_eq!(sink.find_text(&to, part(2)).await.unwrap(), Some(sent));
    assert_eq!(
        sink.find_text(&to, part(1)).await.unwrap(),
        None,
        "another part's text"
    );
}
