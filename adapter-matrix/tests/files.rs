//! Files that cannot be copied, against a real Synapse: each leaves a note in the copy (naming
//! it, its size and why), and the engine records and counts the copy as degraded.

use std::{sync::Arc, time::Duration};

use adapter_matrix::{
    MatrixSink, SOURCE_KEY,
    testing::{synapse, unique_prefix},
};
use bridge_core::{
    Attachment, ChatInfo, ChatKind, ChatRef, MappingStore, Platform, Sink,
    backfill::{Backfill, BackfillJob, BackfillOptions},
    model::{Blob, MemoryBlob},
    retry::RetryPolicy,
    testing::{FakeHistory, text_message},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn file(name: &str, bytes: &[u8]) -> Attachment {
    Attachment {
        name: name.into(),
        mime: Some("text/plain".into()),
        size: Some(bytes.len() as u64),
        dimensions: None,
        data: Arc::new(MemoryBlob(bytes.to_vec())),
    }
}

/// Bytes that cannot be read when the sink asks for them.
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
async fn files_that_cannot_be_copied_leave_a_note_and_are_counted() {
    let synapse = synapse();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let prefix = unique_prefix();
    let sink = Arc::new(MatrixSink::new(&synapse.config(&prefix), store.clone()).unwrap());
    let read = synapse.read_back();

    let from = ChatRef::new(Platform::Keybase, "acme#files");
    let info = ChatInfo {
        chat: from.clone(),
        name: "files".into(),
        topic: None,
        path: vec!["acme".into()],
        kind: ChatKind::Channel,
    };
    let room = sink.resolve_chat(&info, None).await.unwrap();
    let mut m1 = text_message(&from, 1, "the logs");
    m1.content.attachments = vec![Attachment::unavailable(
        "../../etc/passwd",
        None,
        "its file name could lead outside the export folder",
    )];
    let mut m2 = text_message(&from, 2, "");
    m2.content.attachments = vec![Attachment::unavailable(
        "gone.pdf",
        Some(2048),
        "it is missing from the export's attachments folder",
    )];
    // Said to be 60 GiB: over any homeserver's limit, so it is never sent.
    let mut huge = file("huge.iso", b"tiny");
    huge.size = Some(60 << 30);
    let mut m3 = text_message(&from, 3, "slides");
    m3.content.attachments = vec![huge, file("notes.txt", b"notes")];
    let mut m4 = text_message(&from, 4, "");
    m4.content.attachments = vec![
        file("ok.txt", b"ok"),
        Attachment::unavailable("x.bin", Some(5), "gone"),
    ];
    let m5 = text_message(&from, 5, "plain");
    // Found unreadable only when sent.
    let mut m6 = text_message(&from, 6, "locked");
    m6.content.attachments = vec![Attachment {
        data: Arc::new(Vanished),
        ..file("locked.bin", b"12345")
    }];
    let history = vec![m1, m2, m3, m4, m5, m6];

    let job = BackfillJob {
        link: "files".into(),
        source: Arc::new(
            FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), history.clone()),
        ),
        from: from.clone(),
        sink: sink.clone(),
        to: bridge_core::backfill::Target::Named(ChatRef::new(Platform::Matrix, room.clone())),
    };
    let options = BackfillOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..BackfillOptions::default()
    };
    let engine = Backfill::new(store.clone(), options);
    let shutdown = CancellationToken::new();
    let summary = engine.run_job(&job, &shutdown).await.unwrap();
    assert_eq!(
        (summary.copied, summary.degraded, summary.rejected),
        (6, 5, 0),
        "{summary:?}"
    );

    let events: Vec<Value> = read
        .messages(room.as_str())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["content"].get(SOURCE_KEY).is_some())
        .collect();
    let content = |msg: &str, part: i64| -> &Value {
        let e = events.iter().find(|e| {
            e["content"][SOURCE_KEY]["msg"] == msg && e["content"][SOURCE_KEY]["part"] == part
        });
        &e.unwrap_or_else(|| panic!("no event for {msg}/{part}"))["content"]
    };
    assert_eq!(events.len(), 8, "{events:#?}");
    let c = content("1", 0);
    assert_eq!(c["msgtype"], "m.text");
    assert_eq!(
        c["body"],
        "the logs\n\n📎 ../../etc/passwd was not copied: its file name could lead outside the \
         export folder"
    );
    assert!(c.get("url").is_none());
    assert_eq!(
        content("2", 0)["body"],
        "📎 gone.pdf (2.0 KiB) was not copied: it is missing from the export's attachments \
         folder"
    );
    let slides = content("3", 0)["body"].as_str().unwrap();
    assert!(
        slides.starts_with(
            "slides\n\n📎 huge.iso (60.0 GiB) was not copied: larger than the \
             homeserver's "
        ) && slides.ends_with(" upload limit"),
        "{slides}"
    );
    let notes = content("3", 1);
    assert_eq!(notes["msgtype"], "m.file");
    assert_eq!(
        read.download(notes["url"].as_str().unwrap()).await.unwrap(),
        b"notes"
    );
    assert_eq!(content("4", 0)["msgtype"], "m.file");
    let x = content("4", 1);
    assert_eq!(x["body"], "📎 x.bin (5 bytes) was not copied: gone");
    assert_eq!(
        x["formatted_body"],
        "📎 <em>x.bin (5 bytes) was not copied: gone</em>"
    );
    assert_eq!(x["m.mentions"], serde_json::json!({}));

    let listed = store.degraded(&from, &job.to.shown()).await.unwrap();
    let listed: Vec<&str> = listed.iter().map(|d| d.origin.msg.as_str()).collect();
    assert_eq!(
        content("6", 0)["body"],
        "locked\n\n📎 locked.bin (5 bytes) was not copied: it could not be read (permission \
         denied)"
    );
    assert_eq!(listed, ["1", "2", "3", "4", "6"]);

    let again = engine.run_job(&job, &shutdown).await.unwrap();
    assert_eq!((again.parts_sent, again.degraded), (0, 5), "{again:?}");
}
