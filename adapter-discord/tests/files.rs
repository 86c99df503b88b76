//! Files through the sink and the engine, against the stand-in (which renames uploads as
//! Discord does): a lost answer after an upload is found by size, never by the rewritten
//! name; a file that cannot be copied leaves a note, and the copy is counted as degraded.

mod common;

use std::sync::Arc;

use adapter_discord::{
    limiter::LimiterOptions,
    sink::{DiscordSink, SinkOptions},
};
use bridge_core::{
    Attachment, Message,
    model::{Blob, MemoryBlob},
};
use common::{Rig, backfill, chat, kb, rig};
use discord_standin::{Fault, FaultTarget, Limits};

const MAX_FILE: u64 = 1000;

fn file(name: &str, n: usize) -> Attachment {
    Attachment {
        name: name.into(),
        mime: None,
        size: Some(n as u64),
        dimensions: None,
        data: Arc::new(MemoryBlob(vec![b'x'; n])),
    }
}

/// A sink that knows the stand-in's upload limit, as one configured for the server would.
fn sink(r: &Rig) -> Arc<DiscordSink> {
    let options = SinkOptions {
        limiter: LimiterOptions::default(),
        max_file_size: MAX_FILE,
        ..SinkOptions::default()
    };
    Arc::new(DiscordSink::with_options(&r.config(), r.store.clone(), options).unwrap())
}

#[tokio::test]
async fn lost_answers_after_uploads_discord_renames_make_no_duplicate() {
    let r = rig(Limits::discord().scaled(0.1), MAX_FILE).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let names = [
        "photo 1.jpg",
        "ñandú.png",
        "hello (world).png",
        "_bug1.png",
        "photo 1.jpg",
        "Ångström ﬁle.pdf",
    ];
    // The same author and (empty) text each time: only the files tell the copies apart.
    let msgs: Vec<Message> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut m = kb(&c, i as u64 + 1, "");
            m.content.attachments = vec![file(name, 10 + i)];
            m
        })
        .collect();
    // Every upload is stored, then its answer is lost.
    r.standin.inject(
        Fault::DropAfterCommit,
        FaultTarget::WebhookExecute,
        names.len() as u32,
    );
    let s = backfill(&r.store, sink(&r), vec![(c, msgs, channel)]).await;
    // A scripted fault is used up even by a request the stand-in then answers 429 (not stored,
    // not dropped), so not every one of them need come to a lost answer.
    let lost = r.standin.stats().dropped_after_commit;
    assert!(lost >= 3, "only {lost} answers were lost");
    assert_eq!((s[0].copied, s[0].degraded), (names.len() as u64, 0));

    let got = r.standin.messages(channel);
    let files: Vec<(String, usize)> = got
        .iter()
        .flat_map(|m| m.files.iter().map(|f| (f.name.clone(), f.bytes.len())))
        .collect();
    assert_eq!(
        files,
        [
            ("photo_1.jpg".to_owned(), 10),
            ("nandu.png".to_owned(), 11),
            ("hello_world.png".to_owned(), 12),
            ("bug1.png".to_owned(), 13),
            ("photo_1.jpg".to_owned(), 14),
            ("Angstrom_file.pdf".to_owned(), 15),
        ],
        "each file exactly once, under the name Discord gave it"
    );
    assert_eq!(got.len(), names.len(), "no duplicate message");
}

#[tokio::test]
async fn files_that_cannot_be_copied_leave_a_note_and_are_counted() {
    let r = rig(Limits::discord().scaled(0.1), MAX_FILE).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let mut msgs = vec![
        kb(&c, 1, "the logs"),
        kb(&c, 2, ""),
        kb(&c, 3, "slides"),
        kb(&c, 4, "fine"),
    ];
    msgs[0].content.attachments = vec![Attachment::unavailable(
        "../../etc/passwd",
        None,
        "its file name could lead outside the export folder",
    )];
    msgs[1].content.attachments = vec![Attachment::unavailable(
        "gone.pdf",
        Some(2048),
        "it is missing from the export's attachments folder",
    )];
    msgs[2].content.attachments = vec![file("deck.pdf", 1500), file("notes.txt", 5)];
    msgs[3].content.attachments = vec![file("ok.txt", 5)];
    // The note replacing a file is found again too after a lost answer.
    r.standin
        .inject(Fault::DropAfterCommit, FaultTarget::WebhookExecute, 2);

    let s = backfill(&r.store, sink(&r), vec![(c.clone(), msgs.clone(), channel)]).await;
    assert_eq!((s[0].copied, s[0].degraded, s[0].rejected), (4, 3, 0));
    let got = r.standin.messages(channel);
    assert_eq!(
        got.len(),
        5,
        "message 3 has two files, so two parts; no duplicate"
    );
    assert!(
        got[0].content.ends_with(
            "the logs\n📎 *../../etc/passwd was not copied: its file name could lead outside \
             the export folder*"
        ),
        "{}",
        got[0].content
    );
    assert!(got[0].files.is_empty());
    assert!(
        got[1].content.ends_with(
            "📎 *gone.pdf (2.0 KiB) was not copied: it is missing from the export's \
             attachments folder*"
        ),
        "{}",
        got[1].content
    );
    assert!(
        got[2].content.ends_with(
            "slides\n📎 *deck.pdf (1.5 KiB) was not copied: larger than Discord's 1000 bytes \
             limit*"
        ),
        "{}",
        got[2].content
    );
    assert_eq!(got[3].files[0].name, "notes.txt");
    assert_eq!(got[4].files[0].name, "ok.txt");

    let listed = r.store.degraded(&c, &s_to(channel)).await.unwrap();
    let listed: Vec<&str> = listed.iter().map(|d| d.origin.msg.as_str()).collect();
    assert_eq!(listed, ["1", "2", "3"]);

    // A second run sends nothing and counts the same.
    let again = backfill(&r.store, sink(&r), vec![(c, msgs, channel)]).await;
    assert_eq!((again[0].parts_sent, again[0].degraded), (0, 3));
    assert_eq!(r.standin.messages(channel).len(), 5);
}

/// Bytes that cannot be read when the sink asks for them (a file that vanished or changed
/// permissions after the export was read).
struct Vanished;

#[async_trait::async_trait]
impl Blob for Vanished {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "permission denied",
        ))
    }

    fn describe(&self) -> String {
        "a file that vanished".to_owned()
    }
}

#[tokio::test]
async fn files_found_unusable_only_when_sent_are_counted_too() {
    let r = rig(Limits::discord().scaled(0.1), MAX_FILE).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let mut msgs = vec![kb(&c, 1, "locked"), kb(&c, 2, "no size known")];
    msgs[0].content.attachments = vec![Attachment {
        data: Arc::new(Vanished),
        ..file("locked.bin", 5)
    }];
    msgs[1].content.attachments = vec![Attachment {
        size: None,
        ..file("big.dat", 1500)
    }];
    let s = backfill(&r.store, sink(&r), vec![(c.clone(), msgs, channel)]).await;
    assert_eq!((s[0].copied, s[0].degraded), (2, 2));
    let got = r.standin.messages(channel);
    assert!(got.iter().all(|m| m.files.is_empty()));
    let listed = r.store.degraded(&c, &s_to(channel)).await.unwrap();
    let notes: Vec<&str> = listed.iter().map(|d| d.notes.as_str()).collect();
    assert_eq!(
        notes,
        [
            "locked.bin (5 bytes) was not copied: it could not be read (permission denied)",
            "big.dat (1.5 KiB) was not copied: larger than Discord's 1000 bytes limit",
        ]
    );
    assert!(
        got[0].content.ends_with(
            "📎 *locked.bin (5 bytes) was not copied: it could not be read (permission denied)*"
        ),
        "{}",
        got[0].content
    );
}

fn s_to(channel: u64) -> bridge_core::ChatRef {
    bridge_core::ChatRef::new(bridge_core::Platform::Discord, channel.to_string())
}
