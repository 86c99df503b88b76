//! Attachment and channel names from the export never lead outside the attachments folder.

use std::path::{Path, PathBuf};

use adapter_keybase::{ExportOptions, KeybaseExport, RejectReason, RejectScope};
use bridge_core::Message;

use super::fixtures::{fixture, read_all_sync};

/// Every message of every chat.
fn everything(export: &KeybaseExport) -> Vec<Message> {
    export
        .chats()
        .iter()
        .flat_map(|c| read_all_sync(export, c.chat.as_str()))
        .collect()
}

/// Asserts that every attachment handed out is a file inside `root`.
fn all_inside(messages: &[Message], root: &Path) -> usize {
    let root = std::fs::canonicalize(root).unwrap();
    let mut n = 0;
    for a in messages.iter().flat_map(|m| &m.content.attachments) {
        let path = PathBuf::from(a.data.describe());
        assert!(
            path.starts_with(&root),
            "{} is outside {}",
            path.display(),
            root.display()
        );
        assert!(
            !a.name.contains(['/', '\\']) && !a.name.contains(".."),
            "{:?}",
            a.name
        );
        n += 1;
    }
    n
}

#[test]
fn hostile_names_reject_the_attachment_not_the_message() {
    let dir = fixture("hostile");
    let export = KeybaseExport::open(&dir).unwrap();
    let all = everything(&export);
    assert_eq!(all.len(), 10, "every message replays");
    assert_eq!(
        all_inside(&all, &dir.join("attachments")),
        1,
        "only 1-ok.txt is handed out"
    );
    let s = export.stats();
    assert_eq!(
        (
            s.attachments.total,
            s.attachments.found,
            s.attachments.rejected
        ),
        (10, 1, 9)
    );
    assert_eq!((s.attachments.missing, s.rejected), (0, 0));
    let rejected: Vec<u64> = export.rejects().iter().filter_map(|r| r.id).collect();
    assert_eq!(rejected, [10, 9, 8, 7, 6, 5, 4, 3, 2]);
    for r in export.rejects() {
        assert_eq!(
            (r.reason, r.scope()),
            (RejectReason::UnsafeAttachmentPath, RejectScope::Attachment)
        );
    }
    let chats: Vec<_> = export.chats().iter().map(|c| c.chat.as_str()).collect();
    assert_eq!(chats, ["acme#..", "acme#../../x", "acme#general"]);
}

#[cfg(unix)]
#[test]
fn symbolic_links_out_of_the_folder_are_refused() {
    use std::os::unix::fs::symlink;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    let files = root.join("attachments");
    let general = files.join("acme#general");
    std::fs::create_dir_all(&general).unwrap();
    std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
    std::fs::write(tmp.path().join("elsewhere/4-x.txt"), "outside").unwrap();
    std::fs::write(general.join("3-real.txt"), "inside").unwrap();
    symlink(tmp.path().join("secret.txt"), general.join("1-link.txt")).unwrap();
    symlink(general.join("3-real.txt"), general.join("2-inner.txt")).unwrap();
    symlink(tmp.path().join("elsewhere"), files.join("acme#evil")).unwrap();
    let line = |id: u64, name: &str, chan: &str| {
        format!(
            r#"{{"text":"f","id":{id},"attachment":{{"filename":"{name}","asset_type":0}},"sent_at":{id},"sender_username":"a","channel_name":"{chan}"}}"#
        )
    };
    let body = [
        line(4, "x.txt", "acme#evil"),
        line(3, "real.txt", "acme#general"),
        line(2, "inner.txt", "acme#general"),
        line(1, "link.txt", "acme#general"),
    ];
    std::fs::write(root.join("export.jsonl"), body.join("\n")).unwrap();

    let export = KeybaseExport::open(&root).unwrap();
    let all = everything(&export);
    assert_eq!(all.len(), 4);
    assert_eq!(
        all_inside(&all, &files),
        2,
        "real.txt, and inner.txt which points inside"
    );
    let refused: Vec<_> = export.rejects().iter().map(|r| (r.id, r.reason)).collect();
    assert_eq!(
        refused,
        [
            (Some(4), RejectReason::AttachmentOutsideDir),
            (Some(1), RejectReason::AttachmentOutsideDir)
        ]
    );

    // The attachments folder can be put elsewhere; names still cannot leave it.
    let options = ExportOptions {
        attachments_dir: Some(general.clone()),
        ..ExportOptions::default()
    };
    let export = KeybaseExport::open_with(&root, options).unwrap();
    assert_eq!(export.attachments_dir(), general);
    assert_eq!(all_inside(&everything(&export), &general), 0);
    assert_eq!(export.stats().attachments.missing, 4);
}
