//! Every export layout in the wild, written from one generated history as each tool writes
//! it, reads as the same messages as the keybase-export of that history (what each layout
//! refuses is in `layouts_refused.rs`).

use std::path::{Path, PathBuf};

use adapter_keybase::{ExportOptions, KeybaseExport, export::ExportLayout};
use bridge_core::Message;

use super::{
    fixtures::read_all_sync,
    history::{CONVS, history},
    tools,
};

/// A reaction: (emoji, exact, [(user, time ms)]).
type SeenReaction = (String, bool, Vec<(String, Option<i64>)>);

/// What a message comes to, for comparing layouts: attachments by name and bytes found.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    chat: String,
    id: String,
    sender: String,
    sent_ms: i64,
    kind: String,
    text: String,
    reply_to: Option<String>,
    edited: bool,
    reactions: Vec<SeenReaction>,
    /// (name, bytes when found).
    attachments: Vec<(String, Option<Vec<u8>>)>,
}

fn seen(chat: &str, m: &Message) -> Seen {
    let mut reactions: Vec<_> = m
        .reactions
        .iter()
        .map(|r| {
            let mut users: Vec<_> = r
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.name.clone(), r.time_of(i).map(|t| t.timestamp_millis())))
                .collect();
            users.sort();
            (r.emoji.clone(), r.exact, users)
        })
        .collect();
    reactions.sort();
    let attachments = m
        .content
        .attachments
        .iter()
        .map(|a| {
            let bytes = a
                .unavailable_reason()
                .is_none()
                .then(|| std::fs::read(a.data.describe()).unwrap());
            (a.name.clone(), bytes)
        })
        .collect();
    Seen {
        chat: chat.to_owned(),
        id: m.origin.msg.to_string(),
        sender: m.sender.name.clone(),
        sent_ms: m.sent_at.timestamp_millis(),
        kind: format!("{:?}", m.kind),
        text: m.content.text.clone(),
        reply_to: m.reply_to.as_ref().map(ToString::to_string),
        edited: m.edited,
        reactions,
        attachments,
    }
}

/// Every message of the chats in `chats`, in chat then id order.
fn everything(export: &KeybaseExport, chats: &[String]) -> Vec<Seen> {
    chats
        .iter()
        .flat_map(|c| {
            read_all_sync(export, c)
                .iter()
                .map(|m| seen(c, m))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The chats of the history; `teams_only` for the tools that export team channels only.
fn chats(teams_only: bool) -> Vec<String> {
    CONVS
        .iter()
        .filter(|c| !teams_only || c.topic.is_some())
        .map(|c| c.chat())
        .collect()
}

/// The same messages with every attachment's file dropped (a tool that downloads none).
fn without_files(mut all: Vec<Seen>) -> Vec<Seen> {
    for s in &mut all {
        for a in &mut s.attachments {
            a.1 = None;
        }
    }
    all
}

/// The reference: the keybase-export of the whole history.
fn reference(root: &Path) -> KeybaseExport {
    let dir = root.join("keybase-export");
    tools::keybase_export(&history(), &dir);
    let export = KeybaseExport::open(&dir).unwrap();
    assert_eq!(export.layout(), ExportLayout::KeybaseExport);
    export
}

#[tokio::test]
async fn every_layout_reads_as_the_keybase_export_of_the_same_history() {
    let events = history();
    assert!(tools::covers_everything(&events));
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let reference = reference(root);
    let all = chats(false);
    let want = everything(&reference, &all);
    assert_eq!(want.len(), 14, "{want:#?}");
    assert!(want.iter().any(|s| s.edited && s.reply_to.is_some()));
    assert_eq!(
        want.iter()
            .filter(|s| s.attachments.iter().any(|a| a.1.is_some()))
            .count(),
        4,
        "every attachment found in the keybase-export"
    );
    let team_chats = chats(true);
    let want_teams: Vec<Seen> = want
        .iter()
        .filter(|s| team_chats.contains(&s.chat))
        .cloned()
        .collect();

    let dumps = root.join("dumps");
    tools::raw_dump_folder(&events, &dumps);
    let out = root.join("out");
    tools::binding_tree(&events, &out);
    let db_out = root.join("db-only");
    let db = tools::binding_sqlite(&events, &db_out).await;
    let node_root = root.join("exports");
    let node_user = tools::nodejs(&events, &node_root, "alice");
    let original = root.join("original");
    tools::original(&events, &original);

    let cases: Vec<(PathBuf, ExportLayout, Vec<Seen>)> = vec![
        (dumps, ExportLayout::RawDumpFolder, want.clone()),
        (out.clone(), ExportLayout::KeybaseBinding, want.clone()),
        (db, ExportLayout::KeybaseBindingSqlite, want.clone()),
        (
            node_user,
            ExportLayout::KeybaseBindingNodejs,
            want_teams.clone(),
        ),
        // The nodejs tool's root, holding the user folder: read through it.
        (
            node_root,
            ExportLayout::KeybaseBindingNodejs,
            want_teams.clone(),
        ),
        (
            original.join("acme-messages.json"),
            ExportLayout::KeybaseBindingOriginal,
            without_files(
                want_teams
                    .clone()
                    .into_iter()
                    .filter(|s| s.chat.starts_with("acme#"))
                    .collect(),
            ),
        ),
        (
            original,
            ExportLayout::RawDumpFolder,
            without_files(want_teams.clone()),
        ),
    ];
    for (path, layout, want) in cases {
        let export =
            KeybaseExport::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(export.layout(), layout, "{}", path.display());
        // `want` is in chat order: its chats, each once.
        let mut chats: Vec<String> = want.iter().map(|s| s.chat.clone()).collect();
        chats.dedup();
        let mut listed: Vec<String> = export.chats().iter().map(|c| c.chat.to_string()).collect();
        listed.sort();
        let mut wanted = chats.clone();
        wanted.sort();
        assert_eq!(listed, wanted, "{layout}: chats");
        let got = everything(&export, &chats);
        assert_eq!(got, want, "{layout} ({})", path.display());
        let s = export.stats();
        assert!(s.balanced(), "{layout}: {s:?}");
        assert_eq!(s.rejected, 0, "{layout}: {:?}", export.rejects());
        let found = want
            .iter()
            .flat_map(|s| &s.attachments)
            .filter(|a| a.1.is_some())
            .count() as u64;
        assert_eq!(s.attachments.found, found, "{layout}: attachments found");
    }

    // The binding folder also holds the database: the page files are read, once.
    let _ = tools::binding_sqlite(&events, &out).await;
    let export = KeybaseExport::open(&out).unwrap();
    assert_eq!(export.layout(), ExportLayout::KeybaseBinding);
    assert!(export.files().all(|f| f.extension().unwrap() == "json"));
    assert_eq!(everything(&export, &all), want);
    assert_eq!(export.stats().skipped.duplicates, 0);
}

#[tokio::test]
async fn several_exports_of_the_same_history_count_each_message_once() {
    let events = history();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let want = everything(&reference(root), &chats(false));

    // An old keybase-export (before the later edits, deletes and reactions), then the tools'
    // exports of the whole history, side by side in one folder.
    let cut = events.iter().find(|e| e.conv == 0 && e.id == 8).unwrap().ms;
    let combined = root.join("combined");
    tools::keybase_export(
        &tools::until(&events, cut),
        &combined.join("2021-keybase-export"),
    );
    tools::binding_tree(&events, &combined.join("2024-binding/out"));
    tools::binding_sqlite(&events, &combined.join("2024-sqlite")).await;
    tools::raw_dump_folder(&events, &combined.join("2025-dumps"));
    let export = KeybaseExport::open(&combined).unwrap();
    assert_eq!(export.layout(), ExportLayout::Combined);
    assert_eq!(everything(&export, &chats(false)), want);
    let s = export.stats();
    assert!(s.balanced(), "{s:?}");
    assert_eq!(s.messages, 14);
    // Each later export repeats every message; the old one all but the one deleted since.
    let old = KeybaseExport::open(combined.join("2021-keybase-export")).unwrap();
    let old = old.stats().messages;
    assert!(old >= 10, "{old}");
    assert_eq!(
        (s.skipped.duplicates, s.skipped.deleted),
        (2 * 14 + old - 1, 1)
    );
    let summaries: Vec<_> = export.chats().iter().map(|c| c.messages).collect();
    assert_eq!(summaries.iter().sum::<u64>(), 14, "{summaries:?}");

    // The same export twice (copied under two names) is the export once.
    let twice = root.join("twice");
    tools::raw_dump_folder(&events, &twice.join("a"));
    tools::raw_dump_folder(&events, &twice.join("b"));
    let export = KeybaseExport::open(&twice).unwrap();
    assert_eq!(export.layout(), ExportLayout::RawDumpFolder);
    assert_eq!(everything(&export, &chats(false)), want);
}

#[tokio::test]
async fn every_layout_streams_through_a_spilled_index() {
    let events = history();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let want = everything(&reference(root), &chats(false));
    tools::binding_tree(&events, &root.join("combined/out"));
    let db = tools::binding_sqlite(&events, &root.join("combined/db")).await;
    tools::raw_dump_folder(&events, &root.join("combined/dumps"));
    for path in [root.join("combined"), root.join("combined/out"), db] {
        let options = ExportOptions {
            index_memory: 2,
            ..ExportOptions::default()
        };
        let export = KeybaseExport::open_with(&path, options).unwrap();
        assert_eq!(
            everything(&export, &chats(false)),
            want,
            "{}",
            path.display()
        );
    }
}
