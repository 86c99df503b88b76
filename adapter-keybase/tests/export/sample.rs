//! The bundled sample export (`tests/fixtures/sample-export`), message by message.

use adapter_keybase::{ExportOptions, KeybaseExport};
use bridge_core::{AdapterError, ChatId, Cursor, HistorySource, MessageKind, Platform, Syntax};
use chrono::{TimeZone, Utc};

use super::fixtures::{by_id, ids, reactions, read_all, sample_dir};

const N: MessageKind = MessageKind::Normal;
const NOTICE: MessageKind = MessageKind::Notice;

/// (id, sender, kind, reply_to, edited, attachments, start of the text).
type Expected = (
    u64,
    &'static str,
    MessageKind,
    Option<u64>,
    bool,
    usize,
    &'static str,
);

/// `acme#general`, oldest first.
#[rustfmt::skip]
const GENERAL: &[Expected] = &[
    (1, "alice", NOTICE, None, false, 0, "alice created the team acme"),
    (2, "alice", N, None, false, 0, "Welcome to *acme*! This is our general channel, chatter goes to #random."),
    (3, "bob", N, None, false, 0, "Hi all :wave:"),
    (5, "carol_x", N, None, false, 0, "hello hello"),
    (6, "alice", NOTICE, None, false, 0, "alice added dave to the team acme as writer"),
    (8, "dave", N, None, false, 0, "hey everyone, dave here \u{1F44B}"),
    (9, "carol_x", N, Some(8), false, 0, "Welcome @dave! Ping @carol_x if you need access to anything."),
    (11, "bob", N, None, false, 0, "Formatting check: *bold*, _italic_, ~strike~ and `inline code`."),
    (12, "bob", N, None, false, 0, "The fix, for the record:\n```\nfn main() {\n    println!(\"hello, acme\");\n}\n```"),
    (13, "alice", N, Some(12), false, 0, "> we should ship on friday\nAgreed, let's aim for that."),
    (14, "bob", N, None, false, 0, "is the deploy finished?"),
    (15, "alice", N, Some(14), true, 0, "Deploy is done, thanks all. Release notes are in the wiki."),
    (20, "alice", NOTICE, None, false, 0, "alice added emile_b to the team acme as writer"),
    (22, "emile_b", N, None, false, 0, "Bonjour! Émile here, happy to join. Ça va?"),
    (23, "alice", N, None, false, 1, "Whiteboard from today's session"),
    (24, "bob", N, None, false, 1, ""),
    (25, "carol_x", N, None, false, 1, "Meeting notes"),
    (27, "dave", N, None, false, 1, "old logo, for reference"),
    (28, "bob", N, None, false, 0, "Who owns the _staging_ box? @dave?"),
    (29, "dave", N, Some(28), false, 0, "me, it is back up"),
    (30, "emile_b", N, Some(29), false, 0, "merci dave!"),
    (31, "emile_b", N, None, false, 0, "Retrospective notes, Q4 2022 (long, sorry):\n\n1. What went well"),
    (32, "alice", N, Some(31), false, 0, "thanks for writing this up, @emile_b"),
    (33, "carol_x", N, None, false, 0, "+1, I'll take item 9 this week"),
    (34, "alice", N, None, false, 0, "@everyone @here @channel server maintenance tonight at 22:00 UTC, expect 15 minutes of downtime."),
    (37, "dave", N, None, false, 0, "noted"),
    (38, "bob", N, Some(34), false, 0, "maintenance done, all green \u{2705}"),
    (39, "carol_x", N, None, false, 0, "Happy leap day! Reminder: the ~old~ *new* wiki is at https://wiki.acme.example/start"),
    (40, "dave", N, None, false, 0, "!>the cake is a lie<!"),
    (42, "bob", N, None, false, 0, "\u{1F382}"),
];

#[test]
fn scan_counts_every_line() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    let s = export.stats();
    assert_eq!((s.lines, s.messages, s.notices, s.rejected), (68, 54, 6, 0));
    assert_eq!(s.skipped.reaction_lines, 12);
    assert_eq!(s.skipped.no_text, 2);
    assert_eq!(
        (
            s.skipped.blank,
            s.skipped.notices_disabled,
            s.skipped.duplicates
        ),
        (0, 0, 0)
    );
    assert!(s.balanced());
    assert_eq!(
        (
            s.reactions.emoji,
            s.reactions.old_shape,
            s.reactions.undecorated
        ),
        (10, 1, 0)
    );
    assert_eq!(s.reactions.messages_inexact, 1);
    let a = &s.attachments;
    assert_eq!((a.total, a.found, a.missing, a.rejected), (5, 4, 1, 0));
    assert_eq!(a.missing_list.len(), 1);
    let missing = &a.missing_list[0];
    assert_eq!((missing.chat.as_str(), missing.id), ("acme#general", 27));
    assert_eq!(missing.filename.as_deref(), Some("old-logo.svg"));
    assert!(
        missing
            .path
            .as_ref()
            .unwrap()
            .ends_with("attachments/acme#general/27-old-logo.svg")
    );
    assert!(export.rejects().is_empty());
    assert_eq!(s.legacy_channel_lines, 0);
}

#[test]
fn chats_summarize_the_index() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    let chats: Vec<_> = export
        .chats()
        .iter()
        .map(|c| (c.chat.as_str(), c.messages, c.first_id, c.last_id))
        .collect();
    assert_eq!(
        chats,
        [
            ("acme#general", 30, 1, 42),
            ("acme#random", 10, 1, 11),
            ("acme.ops#alerts", 8, 1, 9),
            ("alice,bob", 6, 1, 7),
        ]
    );
    let general = &export.chats()[0];
    assert_eq!(
        general.first_sent_at,
        Utc.with_ymd_and_hms(2021, 3, 1, 9, 0, 0).unwrap()
    );
    assert_eq!(
        general.last_sent_at,
        Utc.with_ymd_and_hms(2024, 2, 29, 12, 10, 0).unwrap()
    );
}

#[tokio::test]
async fn general_replays_oldest_first_message_by_message() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    assert_eq!(export.platform(), Platform::Keybase);
    let chat = ChatId::new("acme#general");
    assert_eq!(export.count(&chat).await.unwrap(), Some(30));
    let all = read_all(&export, "acme#general", 7).await;
    assert_eq!(ids(&all), GENERAL.iter().map(|g| g.0).collect::<Vec<_>>());
    for (m, &(id, sender, kind, reply, edited, files, text)) in all.iter().zip(GENERAL) {
        let what = format!("message {id}");
        assert_eq!(m.origin.platform, Platform::Keybase, "{what}");
        assert_eq!(m.origin.chat, chat, "{what}");
        assert_eq!(
            (m.sender.id.as_str(), m.sender.name.as_str()),
            (sender, sender),
            "{what}"
        );
        assert_eq!(m.sender.avatar, None, "{what}");
        assert_eq!(m.kind, kind, "{what}");
        assert_eq!(
            m.reply_to
                .as_ref()
                .map(|r| r.as_str().parse::<u64>().unwrap()),
            reply,
            "{what}"
        );
        assert_eq!(m.edited, edited, "{what}");
        assert_eq!(m.content.attachments.len(), files, "{what}");
        assert!(
            m.content.text.starts_with(text),
            "{what}: {:?}",
            m.content.text
        );
        let syntax = if kind == NOTICE {
            Syntax::Plain
        } else {
            Syntax::Keybase
        };
        assert_eq!(m.content.syntax, syntax, "{what}");
    }
    for pair in all.windows(2) {
        assert!(pair[0].sent_at <= pair[1].sent_at, "oldest first");
    }
    assert_eq!(
        by_id(&all, 2).sent_at,
        Utc.with_ymd_and_hms(2021, 3, 1, 9, 0, 30).unwrap()
    );
    let long = &by_id(&all, 31).content.text;
    assert!(long.chars().count() > 2000, "{}", long.chars().count());
    assert!(long.ends_with("Bring ideas, not just complaints :)"));
}

#[tokio::test]
async fn reactions_keep_emoji_users_and_order() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    let general = read_all(&export, "acme#general", 100).await;
    assert_eq!(
        reactions(by_id(&general, 3)),
        [(":wave:", true, vec!["alice"])]
    );
    assert_eq!(
        reactions(by_id(&general, 9)),
        [(":heart:", true, vec!["dave"])]
    );
    assert_eq!(
        reactions(by_id(&general, 15)),
        [
            (":tada:", true, vec!["bob", "carol_x", "dave"]),
            (":+1:", true, vec!["carol_x"])
        ]
    );
    // `emileB` in the file: the camel-cased name is mapped back to the sender `emile_b`.
    assert_eq!(
        reactions(by_id(&general, 23)),
        [(":eyes:", true, vec!["emile_b"])]
    );
    assert_eq!(
        reactions(by_id(&general, 34)),
        [(":+1:", true, vec!["bob", "emile_b"])]
    );
    assert_eq!(
        reactions(by_id(&general, 40)),
        [(":joy:", true, vec!["alice"])]
    );
    let with_reactions = general.iter().filter(|m| !m.reactions.is_empty()).count();
    assert_eq!(with_reactions, 6);
    let user = &by_id(&general, 15).reactions[0].users[1];
    assert_eq!(
        (user.id.as_str(), user.avatar.as_deref()),
        ("carol_x", None)
    );

    let random = read_all(&export, "acme#random", 100).await;
    assert_eq!(reactions(by_id(&random, 2)), [("joy", false, vec!["bob"])]);
    let alerts = read_all(&export, "acme.ops#alerts", 100).await;
    assert_eq!(
        reactions(by_id(&alerts, 4)),
        [(":eyes:", true, vec!["dave"])]
    );
    let dm = read_all(&export, "alice,bob", 100).await;
    assert_eq!(
        reactions(by_id(&dm, 4)),
        [(":heart_eyes:", true, vec!["bob"])]
    );
}

#[tokio::test]
async fn attachments_resolve_inside_the_folder() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    let root = std::fs::canonicalize(sample_dir().join("attachments")).unwrap();
    let general = read_all(&export, "acme#general", 100).await;
    let expect = [
        (
            23,
            "whiteboard.png",
            "image/png",
            77,
            "acme#general/23-whiteboard.png",
        ),
        (
            24,
            "diagram.png",
            "image/png",
            84,
            "acme#general/24-diagram.png",
        ),
        (
            25,
            "notes.txt",
            "text/plain",
            73,
            "acme#general/25-notes.txt",
        ),
    ];
    for (id, name, mime, size, rel) in expect {
        let a = &by_id(&general, id).content.attachments[0];
        assert_eq!(
            (a.name.as_str(), a.mime.as_deref(), a.size, a.dimensions),
            (name, Some(mime), Some(size), None)
        );
        assert_eq!(a.data.describe(), root.join(rel).display().to_string());
        let bytes = a.data.read().await.unwrap();
        assert_eq!(bytes.len() as u64, size);
        if mime == "image/png" {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    }
    let missing = &by_id(&general, 27).content.attachments;
    assert_eq!(missing.len(), 1, "a missing file still reaches the sinks");
    assert_eq!(missing[0].name, "old-logo.svg");
    assert_eq!(
        missing[0].unavailable_reason(),
        Some("it is missing from the export's attachments folder")
    );
    let dm = read_all(&export, "alice,bob", 100).await;
    let sunset = by_id(&dm, 4);
    assert_eq!(sunset.content.text, "Sunset last night");
    assert_eq!(sunset.content.attachments[0].name, "sunset.png");
    assert_eq!(ids(&dm), [1, 2, 3, 4, 6, 7]);
    assert!(by_id(&dm, 7).edited);
}

#[tokio::test]
async fn notices_and_headlines() {
    let export = KeybaseExport::open(sample_dir()).unwrap();
    let alerts = read_all(&export, "acme.ops#alerts", 3).await;
    assert_eq!(ids(&alerts), [1, 2, 3, 4, 5, 7, 8, 9]);
    let headline = by_id(&alerts, 2);
    assert_eq!(headline.kind, MessageKind::Notice);
    assert_eq!(
        headline.content.text,
        "New headline: \"Alerts only. Pager rotation: see *the wiki*\""
    );
    assert_eq!(headline.content.syntax, Syntax::Keybase);
    assert_eq!(
        by_id(&alerts, 3).content.text,
        "added alertbot to the conversation"
    );
    assert_eq!(by_id(&alerts, 8).reply_to.as_ref().unwrap().as_str(), "5");

    let quiet = ExportOptions {
        notices: false,
        ..ExportOptions::default()
    };
    let export = KeybaseExport::open_with(sample_dir(), quiet).unwrap();
    let s = export.stats();
    assert_eq!(
        (s.messages, s.notices, s.skipped.notices_disabled),
        (48, 0, 6)
    );
    assert!(s.balanced());
    let alerts = read_all(&export, "acme.ops#alerts", 100).await;
    assert_eq!(ids(&alerts), [4, 5, 7, 8, 9]);
    assert_eq!(export.message_count("acme#general"), Some(27));
}

#[tokio::test]
async fn cursors_and_errors() {
    let export = KeybaseExport::open(sample_dir().join("export.jsonl")).unwrap();
    let chat = ChatId::new("alice,bob");
    let page = export
        .page(&chat, Some(&Cursor::new("3")), 2)
        .await
        .unwrap();
    assert_eq!(
        (ids(&page.messages), page.next.as_ref().map(Cursor::as_str)),
        (vec![4, 6], Some("6"))
    );
    let page = export.page(&chat, page.next.as_ref(), 2).await.unwrap();
    assert_eq!((ids(&page.messages), page.next), (vec![7], None));
    let page = export
        .page(&chat, Some(&Cursor::new("7")), 2)
        .await
        .unwrap();
    assert!(page.messages.is_empty() && page.next.is_none());
    let page = export.page(&chat, None, 0).await.unwrap();
    assert!(
        page.messages.is_empty() && page.next.is_some(),
        "limit 0 is not the end"
    );

    let unknown = export
        .page(&ChatId::new("acme#nope"), None, 10)
        .await
        .unwrap_err();
    let AdapterError::Fatal(e) = &unknown else {
        panic!("{unknown:?}")
    };
    let text = e.to_string();
    assert!(
        text.contains("acme#nope")
            && text.contains("acme#general, acme#random, acme.ops#alerts, alice,bob"),
        "{text}"
    );
    assert!(matches!(
        export.count(&ChatId::new("x")).await,
        Err(AdapterError::Fatal(_))
    ));
    let bad = export
        .page(&chat, Some(&Cursor::new("AQ==")), 10)
        .await
        .unwrap_err();
    assert!(matches!(bad, AdapterError::Fatal(_)), "{bad:?}");

    let missing =
        AdapterError::from(KeybaseExport::open(sample_dir().join("nope.jsonl")).unwrap_err());
    assert!(matches!(missing, AdapterError::Fatal(_)), "{missing:?}");
    let text = bridge_core::Report::new(&missing).to_string();
    assert!(
        text.contains("nope.jsonl") && text.contains("(os error 2)"),
        "the file and the OS's reason: {text}"
    );
}
