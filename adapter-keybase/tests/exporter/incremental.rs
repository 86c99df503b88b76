//! Incremental and interrupted exports: only new pages are fetched, later edits, deletes and
//! reactions are applied, and the result equals a fresh full export of the same state.

use adapter_keybase::{
    exporter::{self, ExportError, ExportRequest, Sections},
    layout::Manifest,
};

use super::{
    export::{run, snapshot},
    standin::Client,
    world,
};

const SECTIONS: [&str; 5] = [
    "teams.json",
    "social.json",
    "identity.json",
    "kbfs.json",
    "git.json",
];

#[tokio::test]
async fn an_incremental_run_fetches_only_new_pages_and_matches_a_fresh_export() {
    let s = world::build();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run(&s, &a, 5).await;
    let before = snapshot(&a).await;

    // Six new messages in #general (a page and one more): text, a reply, an edit, a delete,
    // a reaction and an un-reaction of old messages; one new attachment in the direct chat.
    s.post(
        "acme#general",
        &[
            r#"{"id":35,"sender":"bob","sent_at_ms":1600009000000,"type":"text","body":"back again"}"#,
            r#"{"id":36,"sender":"carol","sent_at_ms":1600009001000,"type":"text","body":"welcome back","reply_to":35}"#,
            r#"{"id":37,"sender":"alice","sent_at_ms":1600009002000,"type":"edit","target":12,"body":"message 12, edited"}"#,
            r#"{"id":38,"sender":"bob","sent_at_ms":1600009003000,"type":"delete","targets":[13]}"#,
            r#"{"id":39,"sender":"carol","sent_at_ms":1600009004000,"type":"reaction","target":14,"emoji":":heart:"}"#,
            r#"{"id":40,"sender":"alice","sent_at_ms":1600009005000,"type":"delete","targets":[8]}"#,
        ],
    );
    s.write("files/alice,bob/5-plan.txt", "PLAN");
    s.post(
        "alice,bob",
        &[r#"{"id":5,"sender":"alice","sent_at_ms":1600009100000,"type":"attachment","filename":"plan.txt","title":"the plan"}"#],
    );
    s.clear_log();
    let summary = run(&s, &a, 5).await;

    // #general: 6 new with pages of 5 → 2 reads (the second reaches known messages); every
    // other conversation: 1 read that finds its known newest message first.
    assert_eq!(s.count("read"), 2 + 4, "{:?}", s.requests());
    assert_eq!(s.count("list"), 1);
    assert_eq!(
        s.count("download"),
        1,
        "only the new attachment is downloaded"
    );
    assert_eq!((summary.new_messages, summary.pages), (7, 6));

    let after = snapshot(&a).await;
    assert_ne!(before, after);
    let general = &after.iter().find(|(c, _)| c == "acme#general").unwrap().1;
    let by = |id: &str| general.iter().find(|v| v.id == id);
    assert_eq!(by("12").unwrap().text, "message 12, edited");
    assert!(by("12").unwrap().edited);
    assert!(by("13").is_none(), "deleted after the first export");
    assert_eq!(by("14").unwrap().reactions[0].0, ":heart:");
    assert!(
        by("6").unwrap().reactions.is_empty(),
        "the reaction was taken back"
    );
    assert_eq!(by("36").unwrap().reply_to.as_deref(), Some("35"));

    // The same as exporting the final state from scratch.
    run(&s, &b, 5).await;
    assert_eq!(after, snapshot(&b).await);
    for name in SECTIONS {
        let read = |dir: &std::path::Path| std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(read(&a), read(&b), "{name}");
    }

    // Nothing new: one read per conversation, nothing downloaded.
    s.clear_log();
    let summary = run(&s, &a, 5).await;
    assert_eq!(
        (s.count("read"), s.count("download"), summary.new_messages),
        (5, 0, 0)
    );
}

#[tokio::test]
async fn an_interrupted_export_resumes_where_it_stopped() {
    let s = world::build();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // The service dies on the 4th read: #general (34 messages, pages of 4) is half done.
    s.write("fail-after-reads", "3");
    let request = ExportRequest {
        out: a.clone(),
        sections: Sections::ALL,
        page_size: 4,
    };
    let err = exporter::export(&s.cli(), &request).await.unwrap_err();
    assert!(matches!(err, ExportError::Client(_)), "{err}");
    let text = bridge_core::Report::new(&err).to_string();
    assert!(
        text.contains("even after a restart") && text.contains("simulated crash"),
        "{text}"
    );
    assert!(text.contains("run the export again to resume"), "{text}");

    let manifest = Manifest::load(&a).unwrap().unwrap();
    let general = manifest
        .conversations
        .values()
        .find(|c| c.chat == "acme#general")
        .unwrap();
    let pass = general
        .pass
        .clone()
        .expect("an unfinished pass is recorded");
    assert_eq!((general.high_water, general.lines), (0, 12));
    // A torn line after the committed bytes, as a crash during a write leaves it.
    let file = a.join(&general.file);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(br#"{"msg":{"id":22,"conversation_id":"#);
    std::fs::write(&file, bytes).unwrap();

    std::fs::remove_file(s.home().join("fail-after-reads")).unwrap();
    s.clear_log();
    exporter::export(&s.cli(), &request).await.unwrap();
    let log = std::fs::read_to_string(s.home().join("requests.log")).unwrap();
    let log = log
        .lines()
        .filter(|l| l.contains(r#""method":"read""#))
        .collect::<Vec<_>>()
        .join("\n");
    let first_read = log
        .lines()
        .find(|l| l.contains(r#""method":"read""#))
        .unwrap();
    assert!(
        first_read.contains(&pass.next),
        "resumes at the saved cursor: {first_read}"
    );
    // #general: 33 visible messages − 12 done = 21 left, pages of 4 → 6 reads. The four other
    // chats: one read each, plus one for alice,bob whose 4 messages fill a whole page (no
    // `last`), so an empty page ends it.
    assert_eq!(s.count("read"), 6 + 4 + 1, "{log}");

    run(&s, &b, 4).await;
    assert_eq!(snapshot(&a).await, snapshot(&b).await);
}
