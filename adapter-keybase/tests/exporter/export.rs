//! A full export against the stand-in, read back through `KeybaseExport`; and the snapshot
//! used to compare exports.

use std::path::Path;

use adapter_keybase::{
    ExportFormat, KeybaseExport,
    exporter::{self, ExportRequest, ExportSummary, Sections},
};
use bridge_core::{ChatId, Cursor, Message, MessageKind};

use super::{
    standin::{Client, StandIn},
    world,
};

/// One message, everything a target would see (attachment bytes included).
#[derive(Debug, PartialEq, Eq)]
pub struct View {
    pub id: String,
    pub sender: String,
    pub sent_at_ms: i64,
    pub notice: bool,
    pub text: String,
    pub reply_to: Option<String>,
    pub edited: bool,
    pub reactions: Vec<(String, bool, Vec<String>)>,
    pub attachments: Vec<(String, Option<u64>, Vec<u8>)>,
}

/// Every message of every chat of the export at `dir`, read page by page.
pub async fn snapshot(dir: &Path) -> Vec<(String, Vec<View>)> {
    let export = KeybaseExport::open(dir).unwrap();
    assert!(export.stats().balanced(), "{:?}", export.stats());
    assert!(export.rejects().is_empty(), "{:?}", export.rejects());
    let mut out = Vec::new();
    let mut chats: Vec<String> = export.chats().iter().map(|c| c.chat.to_string()).collect();
    chats.sort();
    for chat in chats {
        let mut views = Vec::new();
        for m in messages(&export, &chat) {
            views.push(view(m).await);
        }
        out.push((chat, views));
    }
    out
}

/// Every message of `chat`, in pages of 3.
pub fn messages(export: &KeybaseExport, chat: &str) -> Vec<Message> {
    let chat = ChatId::new(chat);
    let (mut out, mut cursor): (Vec<Message>, Option<Cursor>) = (Vec::new(), None);
    loop {
        let page = export.read_page(&chat, cursor.as_ref(), 3).unwrap();
        out.extend(page.messages);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

async fn view(m: Message) -> View {
    let mut attachments = Vec::new();
    for a in &m.content.attachments {
        attachments.push((a.name.clone(), a.size, a.data.read().await.unwrap()));
    }
    View {
        id: m.origin.msg.to_string(),
        sender: m.sender.name,
        sent_at_ms: m.sent_at.timestamp_millis(),
        notice: m.kind == MessageKind::Notice,
        text: m.content.text,
        reply_to: m.reply_to.map(|r| r.to_string()),
        edited: m.edited,
        reactions: m
            .reactions
            .into_iter()
            .map(|r| {
                (
                    r.emoji,
                    r.exact,
                    r.users.into_iter().map(|u| u.name).collect(),
                )
            })
            .collect(),
        attachments,
    }
}

/// Exports the stand-in's world into `dir`.
pub async fn run(s: &StandIn, dir: &Path, page_size: u32) -> ExportSummary {
    let request = ExportRequest {
        out: dir.to_owned(),
        sections: Sections::ALL,
        page_size,
    };
    exporter::export(&s.cli(), &request).await.unwrap()
}

#[tokio::test]
async fn a_full_export_reads_back_as_every_conversation() {
    let s = world::build();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let summary = run(&s, &dir, 7).await;
    assert_eq!(
        (summary.conversations, summary.conversations_failed),
        (5, 0)
    );
    assert_eq!(summary.attachments_downloaded, 2);
    assert_eq!(
        summary.sections,
        ["teams", "social", "identity", "kbfs", "git"]
    );

    let export = KeybaseExport::open(&dir).unwrap();
    assert_eq!(export.format(), ExportFormat::Kbbridge);
    let mut chats: Vec<String> = export.chats().iter().map(|c| c.chat.to_string()).collect();
    chats.sort();
    assert_eq!(
        chats,
        world::CHATS,
        "the subteam channel never joined is found too"
    );

    let general = messages(&export, "acme#general");
    let ids: Vec<&str> = general.iter().map(|m| m.origin.msg.as_str()).collect();
    assert_eq!(
        &ids[..6],
        ["1", "2", "4", "6", "7", "11"],
        "join skipped, 9 deleted"
    );
    assert_eq!(general.len(), 6 + world::GENERAL_BULK as usize);
    let by = |id: &str| {
        general
            .iter()
            .find(|m| m.origin.msg.as_str() == id)
            .unwrap()
    };
    assert_eq!(by("1").kind, MessageKind::Notice);
    assert_eq!(
        by("2").content.text,
        "Welcome to *acme* <3 & more",
        "Go escaping undone"
    );
    assert!(by("4").edited && by("4").content.text == "hello all");
    assert_eq!(by("6").reply_to.as_ref().map(|r| r.as_str()), Some("4"));
    let r = &by("6").reactions;
    assert_eq!(
        (r.len(), r[0].emoji.as_str(), r[0].users[0].name.as_str()),
        (1, ":+1:", "alice")
    );
    let evil = &by("7").content.attachments;
    assert_eq!(
        evil.len(),
        1,
        "the hostile file name is stored under a safe one"
    );
    assert_eq!(evil[0].name, "______evil.txt");
    assert_eq!(evil[0].data.read().await.unwrap(), b"EVIL-NAME-BYTES");
    assert!(
        dir.join("attachments/acme#general/7-______evil.txt")
            .is_file()
    );

    let random = messages(&export, "acme#random");
    let users: Vec<&str> = random[0].reactions[0]
        .users
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    let dm = messages(&export, "alice,bob");
    assert!(dm[2].edited && dm[2].content.text == "Sunset last night");
    assert_eq!(
        dm[2].content.attachments[0].data.read().await.unwrap(),
        b"PNG-SUNSET-BYTES"
    );

    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let teams = json("teams.json");
    assert_eq!(
        teams["teams"]["acme"]["members"]["owners"][0]["username"],
        "alice"
    );
    assert_eq!(
        teams["teams"]["acme.ops"]["members"]["admins"][0]["role"],
        3
    );
    let social = json("social.json");
    assert_eq!(social["following"][1]["username"], "carol");
    assert_eq!(social["followers"][0]["full_name"], "Bob B");
    assert_eq!(
        json("identity.json")["proofs"][1]["proof"]["proofType"],
        1001
    );
    let kbfs = json("kbfs.json");
    let paths: Vec<&str> = kbfs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/keybase/private/alice/photos/cat.png"),
        "{paths:?}"
    );
    assert!(paths.contains(&"/keybase/team/acme/plan.md"), "{paths:?}");
    assert_eq!(
        json("git.json")["repos"][1]["url"],
        "keybase://team/acme/website"
    );

    // Everything is in the snapshot, nothing rejected.
    let snap = snapshot(&dir).await;
    assert_eq!(snap.len(), 5);
}

#[tokio::test]
async fn each_section_exports_on_its_own() {
    let s = world::build();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let request = ExportRequest {
        out: dir.clone(),
        sections: Sections {
            git: true,
            ..Sections::NONE
        },
        page_size: 50,
    };
    let summary = exporter::export(&s.cli(), &request).await.unwrap();
    assert_eq!(summary.sections, ["git"]);
    assert_eq!(s.count("read"), 0, "no chats read when only git is asked");
    assert!(dir.join("git.json").is_file() && !dir.join("teams.json").exists());
    // A folder that is not an export is refused rather than mixed into.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    let request = ExportRequest {
        out: other,
        ..request
    };
    let err = exporter::export(&s.cli(), &request).await.unwrap_err();
    assert!(
        err.to_string().contains("is not a kbbridge export"),
        "{err}"
    );
}

#[tokio::test]
async fn bytes_after_the_committed_ones_are_never_read() {
    let s = world::build();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    run(&s, &dir, 10).await;
    let before = snapshot(&dir).await;
    let manifest = adapter_keybase::layout::Manifest::load(&dir)
        .unwrap()
        .unwrap();
    for conv in manifest.conversations.values() {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(&conv.file))
            .unwrap();
        std::io::Write::write_all(&mut f, br#"{"msg":{"id":999,"content":{"type":"te"#).unwrap();
    }
    assert_eq!(
        snapshot(&dir).await,
        before,
        "a torn page is invisible to the reader"
    );
}

#[tokio::test]
async fn a_failing_section_is_skipped_and_the_rest_exported() {
    let s = world::build();
    s.write("git.json", "not json");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let summary = run(&s, &dir, 50).await;
    assert_eq!(summary.sections_failed, ["git"]);
    assert_eq!(summary.sections, ["teams", "social", "identity", "kbfs"]);
    assert!(!dir.join("git.json").exists());
    assert_eq!(summary.conversations, 5);
}
