//! Copies delivered without some attachments: recorded, counted and reported, once.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{job, keybase, messages, options, temp_store};
use crate::{
    backfill::{Backfill, MessageOutcome, ProgressKind},
    ids::{MsgId, Platform},
    model::{Attachment, MemoryBlob},
    testing::{FakeHistory, FakeSink},
};

fn file(name: &str) -> Attachment {
    Attachment {
        name: name.into(),
        mime: None,
        size: Some(3),
        dimensions: None,
        data: Arc::new(MemoryBlob(vec![1, 2, 3])),
    }
}

#[test]
fn notes_name_the_file_its_size_and_why() {
    let a = Attachment::unavailable("report.pdf", Some(32_715_571), "too large");
    assert_eq!(a.unavailable_reason(), Some("too large"));
    assert_eq!(
        a.not_copied("too large"),
        "report.pdf (31.2 MiB) was not copied: too large"
    );
    let b = Attachment::unavailable("a\u{1b}[2Jb", None, "missing");
    assert_eq!(b.not_copied("missing"), "a_[2Jb was not copied: missing");
    assert_eq!(file("x").unavailable_reason(), None);
}

#[tokio::test]
async fn a_copy_without_its_file_is_recorded_counted_and_listed_once() {
    let (_dir, store) = temp_store().await;
    let from = keybase("acme#general");
    let mut msgs = messages(&from, 6);
    msgs[1].content.attachments = vec![Attachment::unavailable(
        "../../etc/passwd",
        None,
        "its name would leave the export folder",
    )];
    msgs[3].content.attachments = vec![
        file("ok.png"),
        Attachment::unavailable(
            "gone.pdf",
            Some(2048),
            "it is missing from the export folder",
        ),
    ];
    msgs[4].content.attachments = vec![file("fine.txt")];
    let source = Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), msgs));
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = Backfill::new(store.clone(), options()).with_progress(tx);
    let j = job("g", source, from.clone(), sink.clone(), "!r:x");

    let first = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!((first.copied, first.degraded, first.rejected), (6, 2, 0));
    assert_eq!(sink.delivered().len(), 6, "a degraded copy is still sent");

    let listed = store.degraded(&from, &j.to.shown()).await.unwrap();
    let listed: Vec<(&str, &str)> = listed
        .iter()
        .map(|d| (d.origin.msg.as_str(), d.notes.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                "2",
                "../../etc/passwd was not copied: its name would leave the export folder"
            ),
            (
                "4",
                "gone.pdf (2.0 KiB) was not copied: it is missing from the export folder"
            ),
        ]
    );
    let mut outcomes = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let ProgressKind::Message { origin, outcome } = ev.kind {
            outcomes.push((origin.msg.to_string(), outcome));
        }
    }
    assert!(matches!(&outcomes[1], (m, MessageOutcome::Degraded(n)) if m == "2" && n.len() == 1));
    assert_eq!(outcomes[4], ("5".to_string(), MessageOutcome::Copied));

    let again = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!(sink.delivered().len(), 6, "a re-run sends nothing");
    assert_eq!(
        (again.copied, again.degraded),
        (6, 2),
        "counted once, from the store"
    );
    assert_eq!(store.degraded_count(&from, &j.to.shown()).await.unwrap(), 2);
}

#[tokio::test]
async fn a_crash_before_the_notes_were_written_records_them_on_the_next_run() {
    let (_dir, store) = temp_store().await;
    let from = keybase("acme#general");
    let mut msgs = messages(&from, 2);
    msgs[0].content.attachments = vec![Attachment::unavailable("a.bin", Some(5), "gone")];
    let source = Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), msgs));
    let sink = Arc::new(FakeSink::new(Platform::Matrix));
    let engine = Backfill::new(store.clone(), options());
    let j = job("g", source, from.clone(), sink.clone(), "!r:x");
    // The part was delivered and recorded, then the process died before the notes.
    store
        .mark_sent(&from.msg("1"), &j.to.shown(), 0, &MsgId::new("$sent"))
        .await
        .unwrap();

    let summary = engine.run_job(&j, &CancellationToken::new()).await.unwrap();
    assert_eq!((summary.copied, summary.degraded), (2, 1));
    assert_eq!(sink.delivered().len(), 1, "only message 2 is sent");
    let listed = store.degraded(&from, &j.to.shown()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].notes, "a.bin (5 bytes) was not copied: gone");
}
