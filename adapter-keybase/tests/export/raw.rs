//! Raw `keybase chat api` dumps behind the same `open`: arrays of wrappers, `read` replies one
//! per line, the `topic_name` map; folding of edits, deletes and reactions; damaged files.

use adapter_keybase::{ExportFormat, KeybaseExport, RejectReason};
use bridge_core::{MessageKind, Syntax};
use chrono::DateTime;

use super::fixtures::{by_id, fixture, ids, reactions, read_all_sync};

#[test]
fn array_of_wrappers() {
    let export = KeybaseExport::open(fixture("raw-array.json")).unwrap();
    assert_eq!(export.format(), ExportFormat::RawApi);
    let s = export.stats();
    assert_eq!((s.lines, s.messages, s.notices, s.rejected), (9, 4, 2, 0));
    let k = &s.skipped;
    assert_eq!(
        (k.undecryptable, k.folded, k.no_text, k.deleted),
        (1, 3, 1, 0)
    );
    assert!(s.balanced());
    assert_eq!((s.attachments.total, s.attachments.missing), (1, 1));

    let all = read_all_sync(&export, "acme#general");
    assert_eq!(ids(&all), [2, 3, 4, 10]);
    let hello = by_id(&all, 3);
    assert_eq!(hello.content.text, "hello *world* (edited)");
    assert_eq!(
        (hello.edited, hello.reply_to.as_ref().unwrap().as_str()),
        (true, "2")
    );
    assert_eq!(
        hello.sent_at,
        DateTime::from_timestamp_millis(1_600_000_300_123).unwrap()
    );
    assert_eq!(
        reactions(hello),
        [(":+1:", true, vec!["bob"])],
        "aggregated, not doubled"
    );
    assert_eq!(
        hello.reactions[0].time_of(0),
        DateTime::from_timestamp_millis(1_600_000_700_000),
        "the reaction keeps its own time (`ctime`)"
    );
    assert_eq!(by_id(&all, 2).content.text, "Sunset");
    let system = by_id(&all, 4);
    assert_eq!(
        (system.kind, &system.content.syntax),
        (MessageKind::Notice, &Syntax::Plain)
    );
    assert_eq!(
        system.content.text,
        "alice added dave to the team acme as writer"
    );
    let headline = by_id(&all, 10);
    assert_eq!(
        (headline.kind, headline.content.text.as_str()),
        (MessageKind::Notice, "New headline: \"Be *nice*\"")
    );
}

#[test]
fn read_replies_one_per_line_are_folded() {
    let export = KeybaseExport::open(fixture("raw-conv.jsonl")).unwrap();
    assert_eq!(export.format(), ExportFormat::RawApi);
    let s = export.stats();
    assert_eq!((s.lines, s.messages, s.rejected), (9, 2, 0));
    let k = &s.skipped;
    assert_eq!((k.folded, k.undecryptable, k.deleted), (5, 1, 1));
    assert!(s.balanced());
    let dm = read_all_sync(&export, "alice,bob");
    assert_eq!(ids(&dm), [1, 3], "2 was deleted");
    let hi = by_id(&dm, 1);
    assert_eq!((hi.content.text.as_str(), hi.edited), ("hi (edited)", true));
    // bob's reaction stays; alice's was taken back (its reaction message deleted).
    assert_eq!(reactions(hi), [(":tada:", true, vec!["bob"])]);
    assert_eq!(
        hi.reactions[0].time_of(0),
        DateTime::from_timestamp_millis(1_600_000_050_123),
        "a folded reaction keeps its reaction message's time"
    );
    assert_eq!(export.chats()[0].messages, 2);
}

#[test]
fn topic_name_map() {
    let export = KeybaseExport::open(fixture("raw-topics.json")).unwrap();
    assert_eq!(export.format(), ExportFormat::RawApi);
    let chats: Vec<_> = export
        .chats()
        .iter()
        .map(|c| (c.chat.as_str(), c.messages))
        .collect();
    assert_eq!(chats, [("acme#general", 2), ("acme#random", 1)]);
    let general = read_all_sync(&export, "acme#general");
    assert_eq!(by_id(&general, 2).reply_to.as_ref().unwrap().as_str(), "1");
    // Raw keys are the emoji as sent: even the old shape is exact.
    let random = read_all_sync(&export, "acme#random");
    assert_eq!(reactions(&random[0]), [(":joy:", true, vec!["bob"])]);
    assert_eq!(export.stats().reactions.old_shape, 0);
}

#[test]
fn damaged_dumps_keep_what_was_read() {
    let text = std::fs::read_to_string(fixture("raw-array.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // A wrapper that is not valid JSON inside: that entry is rejected, the others are read.
    let path = dir.path().join("broken.json");
    std::fs::write(&path, text.replacen("\"id\": 4,", "\"id\": 4,,", 1)).unwrap();
    let export = KeybaseExport::open(&path).unwrap();
    let rejects: Vec<_> = export
        .rejects()
        .iter()
        .map(|r| (r.line, r.reason))
        .collect();
    let wrapper_line = text.lines().position(|l| l.contains("\"id\": 4,")).unwrap() as u64 - 1;
    assert_eq!(rejects, [(wrapper_line, RejectReason::Malformed)]);
    assert_eq!(ids(&read_all_sync(&export, "acme#general")), [2, 3, 10]);
    assert!(export.stats().balanced());

    // A truncated file: everything before the cut is read, the cut is reported.
    let path = dir.path().join("cut.json");
    let cut = text.find("\"id\": 3,").unwrap();
    std::fs::write(&path, &text[..cut]).unwrap();
    let export = KeybaseExport::open(&path).unwrap();
    assert_eq!(ids(&read_all_sync(&export, "acme#general")), [4, 10]);
    let r = &export.rejects()[0];
    let open_wrapper = text.lines().position(|l| l.contains("\"id\": 3,")).unwrap() as u64 - 1;
    assert_eq!((r.reason, r.line), (RejectReason::Malformed, open_wrapper));
    assert!(r.detail.contains("truncated"), "{}", r.detail);
    assert!(export.stats().balanced());
}

#[test]
fn keybase_export_files_are_not_taken_for_raw_ones() {
    let export = KeybaseExport::open(fixture("legacy.jsonl")).unwrap();
    assert_eq!(export.format(), ExportFormat::KeybaseExport);
    let export = KeybaseExport::open(fixture("bad-lines.jsonl")).unwrap();
    assert_eq!(export.format(), ExportFormat::KeybaseExport);
}
