//! Older and incremental keybase-export files: team-only channel names, old reaction shape,
//! attachments without file names, repeated lines, CRLF, and a file changing after open.

use std::io::Write;

use adapter_keybase::{KeybaseError, KeybaseExport};
use bridge_core::{AdapterError, ChatId, HistorySource};
use chrono::DateTime;

use super::fixtures::{by_id, fixture, ids, reactions, read_all, read_all_sync};

#[tokio::test]
async fn legacy_files_read_as_team_general() {
    let export = KeybaseExport::open(fixture("legacy.jsonl")).unwrap();
    let chats: Vec<_> = export
        .chats()
        .iter()
        .map(|c| (c.chat.as_str(), c.messages))
        .collect();
    assert_eq!(chats, [("oldteam#general", 5), ("alice,the_bob", 1)]);
    let s = export.stats();
    assert_eq!(
        (s.lines, s.messages, s.skipped.no_text, s.rejected),
        (7, 6, 1, 0)
    );
    assert_eq!(s.legacy_channel_lines, 4);
    assert!(s.balanced());
    assert_eq!(
        (
            s.reactions.emoji,
            s.reactions.old_shape,
            s.reactions.messages_inexact
        ),
        (2, 2, 1)
    );
    assert_eq!(
        (
            s.attachments.total,
            s.attachments.missing,
            s.attachments.found
        ),
        (2, 2, 0)
    );
    assert!(
        s.attachments
            .missing_list
            .iter()
            .all(|m| m.filename.is_none() && m.path.is_none())
    );

    let general = read_all(&export, "oldteam#general", 2).await;
    assert_eq!(ids(&general), [2, 3, 4, 5, 7]);
    assert!(
        general
            .iter()
            .all(|m| m.origin.chat.as_str() == "oldteam#general")
    );
    let hello = by_id(&general, 5);
    assert_eq!(
        hello.sent_at,
        DateTime::from_timestamp(1_560_000_300, 0).unwrap()
    );
    assert_eq!(hello.content.text, "hello from 2019");
    let bare_attachment = by_id(&general, 4);
    assert_eq!(
        (
            bare_attachment.content.text.as_str(),
            bare_attachment.content.attachments.len()
        ),
        ("", 1)
    );
    assert_eq!(
        by_id(&general, 3).content.text,
        "[Attachment cat.jpg] my cat"
    );
    // Old shape: mangled keys kept, inexact; `theBob` recovered as the sender `the_bob`.
    assert_eq!(
        reactions(by_id(&general, 2)),
        [
            ("1", false, vec!["carol"]),
            ("tada", false, vec!["bob", "the_bob"])
        ]
    );
}

#[test]
fn duplicates_keep_the_first_line() {
    let export = KeybaseExport::open(fixture("duplicates.jsonl")).unwrap();
    let s = export.stats();
    assert_eq!(
        (s.lines, s.messages, s.skipped.duplicates, s.rejected),
        (6, 4, 2, 0)
    );
    assert!(s.balanced());
    // The dropped copy's attachment and reactions are not counted.
    assert_eq!(
        (
            s.attachments.total,
            s.attachments.missing,
            s.attachments.missing_list.len()
        ),
        (1, 1, 1)
    );
    assert_eq!(s.attachments.missing_list[0].line, 2);
    assert_eq!(
        (
            s.reactions.emoji,
            s.reactions.old_shape,
            s.reactions.messages_inexact
        ),
        (0, 0, 0)
    );

    let general = read_all_sync(&export, "acme#general");
    assert_eq!(ids(&general), [10, 11, 12]);
    let newest = by_id(&general, 12);
    assert_eq!(
        (newest.content.text.as_str(), newest.edited),
        ("v2 (edited)", true)
    );
    assert!(by_id(&general, 11).reactions.is_empty());
    // Message IDs are per conversation: the same id in another chat is another message.
    let random = read_all_sync(&export, "acme#random");
    assert_eq!(
        (ids(&random), random[0].content.text.as_str()),
        (vec![12], "same id, other chat")
    );
}

#[test]
fn crlf_and_bom_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let line = |id: u64, text: &str| {
        format!(
            r#"{{"text":"{text}","id":{id},"sent_at":{id},"sender_username":"a","channel_name":"t#c"}}"#
        )
    };
    let body = format!(
        "\u{FEFF}{}\r\n{}\r\n\r\n{}",
        line(3, "c"),
        line(2, "b"),
        line(1, "a")
    );
    std::fs::write(&path, body).unwrap();
    let export = KeybaseExport::open(dir.path()).unwrap();
    let s = export.stats();
    assert_eq!(
        (s.lines, s.messages, s.skipped.blank, s.rejected),
        (4, 3, 1, 0)
    );
    let all = read_all_sync(&export, "t#c");
    let texts: Vec<_> = all.iter().map(|m| m.content.text.as_str()).collect();
    assert_eq!(texts, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_file_changed_after_open_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    std::fs::copy(fixture("duplicates.jsonl"), &path).unwrap();
    let export = KeybaseExport::open(&path).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"{}\n").unwrap();
    drop(file);
    let e = export
        .read_page(&ChatId::new("acme#general"), None, 10)
        .unwrap_err();
    assert!(matches!(e, KeybaseError::Changed { .. }), "{e}");
    let e = export
        .page(&ChatId::new("acme#general"), None, 10)
        .await
        .unwrap_err();
    assert!(matches!(e, AdapterError::Fatal(_)), "{e}");
}

#[tokio::test]
async fn chat_info_describes_teams_subteams_and_direct_chats() {
    use adapter_keybase::ExportOptions;
    use bridge_core::{ChatKind, Platform, UserId};

    use super::fixtures::sample_dir;

    let quiet = ExportOptions {
        notices: false,
        ..ExportOptions::default()
    };
    for export in [
        KeybaseExport::open(sample_dir()).unwrap(),
        KeybaseExport::open_with(sample_dir(), quiet).unwrap(),
    ] {
        let alerts = export
            .chat_info(&ChatId::new("acme.ops#alerts"))
            .await
            .unwrap();
        assert_eq!(
            (alerts.chat.platform, alerts.chat.chat.as_str()),
            (Platform::Keybase, "acme.ops#alerts")
        );
        assert_eq!(
            (alerts.name.as_str(), alerts.path.as_slice()),
            ("alerts", ["acme", "ops"].map(String::from).as_slice())
        );
        assert_eq!(
            alerts.topic.as_deref(),
            Some("Alerts only. Pager rotation: see *the wiki*")
        );
        assert_eq!(alerts.kind, ChatKind::Channel);
        let general = export
            .chat_info(&ChatId::new("acme#general"))
            .await
            .unwrap();
        assert_eq!(
            (general.name.as_str(), general.path.len(), general.topic),
            ("general", 1, None)
        );
        let dm = export.chat_info(&ChatId::new("alice,bob")).await.unwrap();
        assert_eq!((dm.name.as_str(), dm.path.len()), ("alice, bob", 0));
        assert_eq!(
            dm.kind,
            ChatKind::Direct {
                members: vec![UserId::new("alice"), UserId::new("bob")]
            }
        );
        let unknown = export.chat_info(&ChatId::new("acme#nope")).await;
        assert!(matches!(unknown, Err(AdapterError::Fatal(_))));
    }
    let raw = KeybaseExport::open(fixture("raw-array.json")).unwrap();
    let general = raw.chat_info(&ChatId::new("acme#general")).await.unwrap();
    assert_eq!(general.topic.as_deref(), Some("Be *nice*"));
}
