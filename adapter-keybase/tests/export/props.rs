//! Random and mutated lines: the reader never panics, and every line is a message, a counted
//! skip or a reported reject.

use std::collections::HashSet;

use adapter_keybase::{ExportFormat, ExportOptions, KeybaseError, KeybaseExport, RejectScope};
use proptest::{collection::vec, prelude::*, sample::select};
use serde_json::{Value, json};

use super::fixtures::{ids, read_all_sync};

/// A plausible keybase-export line (any version), as JSON.
fn valid_line() -> impl Strategy<Value = Value> {
    let channel = select(vec![
        "acme#general",
        "acme#random",
        "alice,bob",
        "acme",
        "acme#../x",
    ]);
    let filename = select(vec![
        "a.png",
        "a.png",
        "a.png",
        "../a.png",
        "",
        "b c.txt",
        "x\u{0}y",
        "/etc/passwd",
        "..",
    ]);
    let reactions = select(vec![
        json!({"tada": {"decorated": ":tada:", "users": {"bob": {}, "carolX": {}}}}),
        json!({"1": {"carol": {"ctime": 1}}}),
        json!({"1": {"decorated": "", "users": {"bob": {}}}}),
        json!("lots"),
        json!({"x": 3}),
        json!(null),
    ]);
    (
        (
            1u64..12,
            channel,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            proptest::option::of(filename),
            proptest::option::of(reactions),
            0u8..8,
            any::<bool>(),
        ),
    )
        .prop_map(
            |((id, channel, has_text, system, special), (file, reactions, time, edited))| {
                let mut line = json!({"id": id, "channel_name": channel, "sender_username": "bob"});
                if has_text {
                    line["text"] = json!(if special {
                        "[Reaction ':+1:' to msg id 1]"
                    } else {
                        "hi *there*"
                    });
                }
                if let Some(file) = file {
                    line["attachment"] = json!({"filename": file, "asset_type": 1});
                }
                if let Some(r) = reactions {
                    line["reactions"] = r;
                }
                match time {
                    0 => {}
                    1 => line["sent_at_ms"] = json!(i64::MAX),
                    2..=4 => line["sent_at"] = json!(1_600_000_000 + id),
                    _ => line["sent_at_ms"] = json!(1_600_000_000_000u64 + id),
                }
                if system {
                    line["system"] = json!(true);
                }
                if special {
                    line["special"] = json!(true);
                }
                if edited {
                    line["edited"] = json!(true);
                }
                line
            },
        )
}

/// A line's bytes, possibly damaged.
fn any_line() -> impl Strategy<Value = Vec<u8>> {
    let valid = || valid_line().prop_map(|v| v.to_string().into_bytes());
    prop_oneof![
        8 => valid(),
        2 => (valid(), any::<prop::sample::Index>()).prop_map(|(mut l, at)| {
            l.truncate(at.index(l.len() + 1));
            l
        }),
        2 => (valid(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut l, at, b)| {
            let i = at.index(l.len());
            l[i] = b;
            l
        }),
        1 => (valid(), any::<prop::sample::Index>(), vec(any::<u8>(), 1..6)).prop_map(|(mut l, at, bytes)| {
            let i = at.index(l.len() + 1);
            l.splice(i..i, bytes);
            l
        }),
        1 => vec(any::<u8>(), 0..40),
        1 => select(vec!["", "  ", "null", "[]", "{}", "\u{FEFF}{}", "\"s\""]).prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// Opening without `allow_empty` fails (with [`KeybaseError::NothingReadable`]) exactly when
/// no line of the file became a message or was understood and skipped.
fn nothing_read_is_an_error_exactly_when_nothing_was_read(
    strict: &Result<KeybaseExport, KeybaseError>,
    s: &adapter_keybase::ExportStats,
) -> Result<(), TestCaseError> {
    let nothing = s.messages == 0 && s.skipped.total() == s.skipped.blank;
    match strict {
        Err(KeybaseError::NothingReadable { .. }) => prop_assert!(nothing, "{:?}", s),
        Err(e) => prop_assert!(false, "{e}"),
        Ok(_) => prop_assert!(!nothing, "{:?}", s),
    }
    Ok(())
}

/// Lines as the line reader counts them.
fn count_lines(body: &[u8]) -> u64 {
    let newlines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(body.last().is_some_and(|&b| b != b'\n'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_line_is_accounted_for(lines in vec(any_line(), 0..30), crlf in any::<bool>(), final_newline in any::<bool>()) {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut body = lines.join(eol);
        if final_newline && !lines.is_empty() {
            body.extend_from_slice(eol);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.jsonl");
        std::fs::write(&path, &body).unwrap();
        let general = dir.path().join("attachments/acme#general");
        std::fs::create_dir_all(&general).unwrap();
        for id in (1..12).step_by(2) {
            std::fs::write(general.join(format!("{id}-a.png")), b"png").unwrap();
        }

        let options = ExportOptions { format: Some(ExportFormat::KeybaseExport), ..ExportOptions::default() };
        let strict = KeybaseExport::open_with(&path, options.clone());
        let options = ExportOptions { allow_empty: true, ..options };
        let export = KeybaseExport::open_with(&path, options).unwrap();
        let s = export.stats().clone();
        nothing_read_is_an_error_exactly_when_nothing_was_read(&strict, &s)?;
        prop_assert_eq!(s.lines, count_lines(&body));
        prop_assert!(s.balanced(), "{:?}", s);
        let line_rejects = export.rejects().iter().filter(|r| r.scope() == RejectScope::Line).count();
        prop_assert_eq!(line_rejects as u64, s.rejected);
        prop_assert!(export.rejects().iter().all(|r| r.line >= 1 && r.line <= s.lines));

        let root = std::fs::canonicalize(dir.path().join("attachments")).unwrap();
        let mut replayed = 0;
        let mut chats = HashSet::new();
        for chat in export.chats() {
            prop_assert!(chats.insert(chat.chat.clone()));
            let messages = read_all_sync(&export, chat.chat.as_str());
            let got = ids(&messages);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "ids ascending and unique: {:?}", got);
            prop_assert_eq!(got.len() as u64, chat.messages);
            for a in messages.iter().flat_map(|m| &m.content.attachments) {
                if a.unavailable_reason().is_some() {
                    continue;
                }
                prop_assert!(std::path::Path::new(&a.data.describe()).starts_with(&root));
            }
            replayed += messages.len() as u64;
        }
        prop_assert_eq!(replayed, s.messages);
    }
}

/// Damage to a raw dump: overwrite, delete or insert a byte, or cut the file there.
fn damage(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, how) in edits {
        let i = at.index(bytes.len() + 1);
        match how {
            0 if i < bytes.len() => bytes[i] = *byte,
            1 if i < bytes.len() => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, *byte),
            _ => bytes.truncate(i),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn damaged_raw_dumps_are_accounted_for(
        which in select(vec!["raw-array.json", "raw-conv.jsonl", "raw-topics.json"]),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..5),
    ) {
        let body = damage(std::fs::read(super::fixtures::fixture(which)).unwrap(), &edits);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.json");
        std::fs::write(&path, &body).unwrap();
        let options = ExportOptions { format: Some(ExportFormat::RawApi), ..ExportOptions::default() };
        let strict = KeybaseExport::open_with(&path, options.clone());
        let options = ExportOptions { allow_empty: true, ..options };
        let export = KeybaseExport::open_with(&path, options).unwrap();
        let s = export.stats().clone();
        nothing_read_is_an_error_exactly_when_nothing_was_read(&strict, &s)?;
        prop_assert!(s.balanced(), "{:?}", s);
        let file_lines = count_lines(&body).max(1);
        prop_assert!(export.rejects().iter().all(|r| r.line >= 1 && r.line <= file_lines));
        let mut replayed = 0;
        for chat in export.chats() {
            let messages = read_all_sync(&export, chat.chat.as_str());
            let got = ids(&messages);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "{:?}", got);
            replayed += messages.len() as u64;
        }
        prop_assert_eq!(replayed, s.messages);
    }
}
