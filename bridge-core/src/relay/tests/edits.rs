//! Edits of copies whose text takes several parts, edits seen out of order, and crashes in the
//! middle of an edit. Discord here splits text into parts of 5 characters, files after them.

use super::*;
use crate::{
    adapter::AdapterError,
    model::{Attachment, MemoryBlob, Message},
    store::TextLayout,
    testing::Script,
};

fn splitting() -> FakeSink {
    FakeSink::new(Platform::Discord).split_text(5)
}

/// Keybase message `id` saying `text`, with one file.
fn with_file(id: u64, text: &str) -> Message {
    let mut msg = text_message(&kb(), id, text);
    msg.content.attachments.push(Attachment {
        name: "a.png".into(),
        mime: None,
        size: Some(3),
        dimensions: None,
        data: Arc::new(MemoryBlob(vec![1, 2, 3])),
    });
    msg
}

/// The parts recorded for `origin`'s copy on Discord.
async fn parts_on_discord(w: &World, origin: &MsgRef) -> Vec<u32> {
    let rows = w.store.copies(origin, &dc()).await.unwrap();
    rows.iter().map(|r| r.part).collect()
}

fn edits(sink: &FakeSink) -> usize {
    count(sink, |a| matches!(a, Action::Edit(..)))
}

#[tokio::test]
async fn an_edit_rewrites_each_text_part_adds_and_deletes_parts_and_leaves_files_alone() {
    let w = world_with(splitting(), RelayOptions::default()).await;
    let mut leases = Leases::default();
    let msg = with_file(1, "hello world");
    let origin = msg.origin.clone();
    w.relay
        .apply(&live(Event::Message(msg.clone())), &mut leases)
        .await
        .unwrap();
    let sent: Vec<(u32, String)> = w
        .discord
        .delivered()
        .iter()
        .map(|d| (d.part, d.text.clone()))
        .collect();
    let expected = [(0, "hello"), (1, " worl"), (2, "d"), (3, "a.png")];
    assert_eq!(sent, expected.map(|(p, t)| (p, t.to_owned())));
    let recorded = TextLayout {
        parts: vec![0, 1, 2],
        next_part: 4,
        edited_at: None,
    };
    assert_eq!(
        w.store.text_layout(&origin, &dc()).await.unwrap(),
        Some(recorded)
    );
    let id = |i: usize| w.discord.delivered()[i].id.clone();
    let chat = dc().chat;

    // Shorter: part 0 rewritten, the surplus text parts deleted (the last first), the file kept.
    let shorter = live(edit(&origin, "hi", 100));
    let applied = w.relay.apply(&shorter, &mut leases).await;
    assert_eq!(applied.unwrap(), Applied::Relayed(2));
    assert_eq!(
        w.discord.actions(),
        [
            Action::Edit(chat.clone(), id(0), "hi".into()),
            Action::Delete(chat.clone(), id(2)),
            Action::Delete(chat.clone(), id(1)),
        ]
    );
    assert_eq!(parts_on_discord(&w, &origin).await, [0, 3]);
    // The message seen again (a catch-up overlap): the parts the edit deleted stay deleted.
    w.relay
        .apply(&live(Event::Message(msg)), &mut leases)
        .await
        .unwrap();
    assert_eq!(w.discord.delivered().len(), 4, "nothing sent again");

    // Longer: part 0 rewritten, the new parts sent after the file.
    let longer = live(edit(&origin, "abcdefghijkl", 200));
    let applied = w.relay.apply(&longer, &mut leases).await;
    assert_eq!(applied.unwrap(), Applied::Relayed(2));
    assert_eq!(
        w.discord.actions()[3..],
        [Action::Edit(chat.clone(), id(0), "abcde".into())]
    );
    let added: Vec<(u32, String)> = w.discord.delivered()[4..]
        .iter()
        .map(|d| (d.part, d.text.clone()))
        .collect();
    assert_eq!(added, [(4, "fghij".to_owned()), (5, "kl".to_owned())]);
    assert_eq!(parts_on_discord(&w, &origin).await, [0, 3, 4, 5]);
    let layout = w.store.text_layout(&origin, &dc()).await.unwrap().unwrap();
    assert_eq!((layout.parts, layout.next_part), (vec![0, 4, 5], 6));
    assert!(
        !w.discord
            .actions()
            .iter()
            .any(|a| *a == Action::Edit(chat.clone(), id(3), "abcde".into())),
        "the file part is never edited"
    );

    // A delete then removes every part, the added ones included, the last first.
    let delete = Event::Delete {
        target: origin.clone(),
        sender: None,
    };
    w.relay.apply(&live(delete), &mut leases).await.unwrap();
    assert_eq!(
        w.discord.actions()[4..],
        [
            Action::Delete(chat.clone(), id(5)),
            Action::Delete(chat.clone(), id(4)),
            Action::Delete(chat.clone(), id(3)),
            Action::Delete(chat, id(0)),
        ]
    );
    // Matrix keeps its text in one part: each edit rewrites it whole.
    let on_matrix = w.matrix.actions();
    let texts: Vec<&str> = on_matrix
        .iter()
        .filter_map(|a| match a {
            Action::Edit(_, _, text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["hi", "abcdefghijkl"]);
}

#[tokio::test]
async fn a_crash_in_the_middle_of_an_edit_neither_repeats_nor_loses_a_step() {
    let w = world_with(splitting(), RelayOptions::default()).await;
    let mut leases = Leases::default();
    let msg = with_file(1, "hello");
    let origin = msg.origin.clone();
    w.relay
        .apply(&live(Event::Message(msg)), &mut leases)
        .await
        .unwrap();
    assert_eq!(
        parts_on_discord(&w, &origin).await,
        [0, 1],
        "text, then file"
    );

    // Longer, and the second added part arrives but its answer is lost in a crash.
    let lost = AdapterError::fatal("connection lost");
    w.discord.script("1", 3, Script::DeliverThenFail(lost));
    let longer = live(edit(&origin, "abcdefghijkl", 100));
    let crashed = w.relay.apply(&longer, &mut leases).await;
    assert!(
        matches!(crashed, Err(RelayError::Sink { .. })),
        "{crashed:?}"
    );
    let again = w.relay.apply(&longer, &mut leases).await;
    assert_eq!(again.unwrap(), Applied::Relayed(2));
    assert_eq!(edits(&w.discord), 1, "part 0 rewritten once");
    let added: Vec<(u32, String)> = w.discord.delivered()[2..]
        .iter()
        .map(|d| (d.part, d.text.clone()))
        .collect();
    assert_eq!(
        added,
        [(2, "fghij".to_owned()), (3, "kl".to_owned())],
        "each sent once"
    );
    assert_eq!(
        w.discord.found_count(),
        1,
        "the lost answer was found in the target"
    );
    assert_eq!(parts_on_discord(&w, &origin).await, [0, 1, 2, 3]);
    assert_eq!(edits(&w.matrix), 1);

    // Shorter, and the connection drops between the two deletes.
    w.discord
        .fail_actions(2, vec![AdapterError::fatal("connection lost")]);
    let shorter = live(edit(&origin, "xy", 200));
    assert!(w.relay.apply(&shorter, &mut leases).await.is_err());
    let again = w.relay.apply(&shorter, &mut leases).await;
    assert_eq!(again.unwrap(), Applied::Relayed(2));
    let id = |i: usize| w.discord.delivered()[i].id.clone();
    let chat = dc().chat;
    assert_eq!(
        w.discord.actions()[1..],
        [
            Action::Edit(chat.clone(), id(0), "xy".into()),
            Action::Delete(chat.clone(), id(3)),
            Action::Delete(chat, id(2)),
        ],
        "each step once"
    );
    assert_eq!(parts_on_discord(&w, &origin).await, [0, 1]);
}

#[tokio::test]
async fn an_older_edit_after_a_newer_one_is_skipped() {
    let (w, mut leases, msg) = with_one_message().await;
    let newer = w
        .relay
        .apply(&live(edit(&msg.origin, "second", 200)), &mut leases)
        .await;
    assert_eq!(newer.unwrap(), Applied::Relayed(2));
    let older = w
        .relay
        .apply(&live(edit(&msg.origin, "first", 100)), &mut leases)
        .await;
    assert_eq!(older.unwrap(), Applied::Superseded);
    let first = w.discord.delivered()[0].id.clone();
    assert_eq!(
        w.discord.actions(),
        [Action::Edit(dc().chat, first, "second".into())]
    );
    assert_eq!(edits(&w.matrix), 1);
}
