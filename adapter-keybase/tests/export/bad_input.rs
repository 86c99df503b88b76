//! Bad lines are reported with their line number, counted, and the rest is read.

use adapter_keybase::{ExportOptions, KeybaseExport, RejectReason, RejectScope};

use super::fixtures::{fixture, ids, read_all_sync};

#[test]
fn each_bad_line_is_reported_and_the_rest_read() {
    let export = KeybaseExport::open(fixture("bad-lines.jsonl")).unwrap();
    let got: Vec<(u64, RejectReason)> = export
        .rejects()
        .iter()
        .map(|r| (r.line, r.reason))
        .collect();
    assert_eq!(
        got,
        [
            (2, RejectReason::Malformed),
            (3, RejectReason::Malformed),
            (4, RejectReason::InvalidUtf8),
            (5, RejectReason::UnknownShape),
            (6, RejectReason::UnknownShape),
            (7, RejectReason::MissingId),
            (8, RejectReason::MissingChannel),
            (9, RejectReason::MissingSender),
            (10, RejectReason::MissingTime),
            (12, RejectReason::UnknownShape),
            (14, RejectReason::UnknownShape),
            (15, RejectReason::UnknownShape),
            (16, RejectReason::BadReactions),
            (17, RejectReason::BadAttachment),
        ]
    );
    let s = export.stats();
    assert_eq!(
        (s.lines, s.messages, s.rejected, s.skipped.blank),
        (18, 5, 12, 1)
    );
    assert!(s.balanced());
    assert_eq!(s.attachments.rejected, 1);
    let line_rejects = export
        .rejects()
        .iter()
        .filter(|r| r.scope() == RejectScope::Line)
        .count();
    assert_eq!(line_rejects as u64, s.rejected);
    for r in export.rejects() {
        assert_eq!(r.file, fixture("bad-lines.jsonl"));
        assert!(!r.detail.is_empty());
    }
    let sender = &export.rejects()[7];
    assert_eq!(
        (sender.chat.as_deref(), sender.id),
        (Some("acme#general"), Some(9))
    );
    assert!(export.rejects()[2].excerpt.contains("caf\u{FFFD}"));
    assert_eq!(
        export.rejects()[1].excerpt,
        r#"{"text":"cut off","id":3,"sent_at":16"#
    );

    let general = read_all_sync(&export, "acme#general");
    assert_eq!(ids(&general), [1, 13, 16, 17, 18]);
    assert!(general[2].reactions.is_empty());
    let refused = &general[3].content.attachments;
    assert!(
        refused.len() == 1 && refused[0].unavailable_reason().is_some(),
        "a refused attachment replays as a note: {refused:?}"
    );
    assert_eq!(
        general[4].content.text, "ok 18",
        "the last line has no newline"
    );
}

#[test]
fn rejects_file_is_written_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-lines.jsonl");
    std::fs::copy(fixture("bad-lines.jsonl"), &path).unwrap();
    let options = ExportOptions {
        write_rejects: true,
        ..ExportOptions::default()
    };
    let export = KeybaseExport::open_with(&path, options).unwrap();
    let written = std::fs::read_to_string(dir.path().join("bad-lines.rejects.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), export.rejects().len());
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["reason"], "malformed");
    assert_eq!(lines[0]["scope"], "line");
    assert_eq!(lines[0]["raw"], r#"{"text":"oops","#);
    assert_eq!(lines[13]["scope"], "attachment");
    assert_eq!(
        (lines[13]["chat"].as_str(), lines[13]["id"].as_u64()),
        (Some("acme#general"), Some(17))
    );

    let quiet = KeybaseExport::open(&path).unwrap();
    assert_eq!(quiet.rejects().len(), 14);
}

#[test]
fn over_long_lines_are_rejected_without_holding_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let line = |id: u64, text: &str| {
        format!(
            r#"{{"text":"{text}","id":{id},"sent_at":1,"sender_username":"a","channel_name":"t#c"}}"#
        )
    };
    let body = [
        line(3, "short"),
        line(2, &"x".repeat(5000)),
        line(1, "short too"),
    ]
    .join("\n");
    std::fs::write(&path, body).unwrap();
    let options = ExportOptions {
        max_line_bytes: 1000,
        ..ExportOptions::default()
    };
    let export = KeybaseExport::open_with(&path, options).unwrap();
    let r = &export.rejects()[0];
    assert_eq!((r.line, r.reason), (2, RejectReason::TooLong));
    assert!(r.excerpt.chars().count() <= 200);
    assert_eq!(ids(&read_all_sync(&export, "t#c")), [1, 3]);
    assert!(export.stats().balanced());
}

#[test]
fn an_export_with_nothing_readable_is_an_error_listing_the_layouts() {
    use adapter_keybase::{KeybaseError, export::ACCEPTED_LAYOUTS};

    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.jsonl", b"", "empty"),
        ("blank.jsonl", b"\n  \n\r\n", "blank"),
        (
            "notes.txt",
            b"hello\nworld\n",
            "all 2 line(s) were rejected (line 1: Malformed",
        ),
        ("binary.dat", b"\xff\xfe\x00\x01\n\x80", "InvalidUtf8"),
        ("dump.json", b"[]", "empty or holds no record"),
    ];
    for (name, body, why) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let err = KeybaseExport::open(&path).expect_err(name);
        assert!(
            matches!(err, KeybaseError::NothingReadable { .. }),
            "{name}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(why), "{name}: {text}");
        assert!(
            text.contains(&path.display().to_string()),
            "names the file: {text}"
        );
        assert!(text.ends_with(ACCEPTED_LAYOUTS), "{name}: {text}");
        // The check can be turned off: the file then opens with no chat.
        let options = ExportOptions {
            allow_empty: true,
            ..ExportOptions::default()
        };
        assert!(
            KeybaseExport::open_with(&path, options)
                .unwrap()
                .chats()
                .is_empty()
        );
    }
    for layout in [
        "keybase-export JSON Lines",
        "`keybase chat api` dump",
        "manifest.json",
    ] {
        assert!(ACCEPTED_LAYOUTS.contains(layout), "{ACCEPTED_LAYOUTS}");
    }

    // A folder holding no export at all.
    let empty_dir = dir.path().join("folder");
    std::fs::create_dir(&empty_dir).unwrap();
    let err = KeybaseExport::open(&empty_dir).unwrap_err();
    assert!(matches!(err, KeybaseError::UnknownLayout { .. }), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("the folder holds no export"), "{err}");
    assert!(err.ends_with(ACCEPTED_LAYOUTS), "{err}");

    // One readable line among bad ones is enough: the rest are rejects, as always.
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "garbage\n{\"text\":\"hi\",\"id\":1,\"sent_at\":1,\"sender_username\":\"a\",\
         \"channel_name\":\"acme#general\"}\n",
    )
    .unwrap();
    let export = KeybaseExport::open(&mixed).unwrap();
    assert_eq!((export.stats().messages, export.stats().rejected), (1, 1));
}

#[test]
fn the_reject_count_is_one_number_everywhere() {
    use adapter_keybase::inspect::inspect;

    // bad-lines: whole lines and parts; hostile: only attachments refused (0 whole lines),
    // where the reader's log said `rejected=0` while inspect's table said 9.
    for (file, rejects, lines) in [
        (fixture("bad-lines.jsonl"), 14, 12),
        (fixture("hostile/export.jsonl"), 9, 0),
    ] {
        let export = KeybaseExport::open(&file).unwrap();
        let s = export.stats();
        assert_eq!((s.rejects, s.rejected), (rejects, lines), "{file:?}");
        assert_eq!(
            s.rejects,
            export.rejects().len() as u64 + s.rejects_not_kept
        );
        let report = inspect(&export).unwrap();
        assert_eq!((report.rejects, report.rejected_lines), (rejects, lines));
        let per_channel: u64 = report.channels.iter().map(|c| c.rejects).sum();
        assert_eq!(
            per_channel + report.rejects_elsewhere,
            report.rejects,
            "{report:?}"
        );
        assert!(
            report
                .to_string()
                .contains(&format!("; {rejects} reject(s): {lines} whole line(s)")),
            "{report}"
        );
    }
}
