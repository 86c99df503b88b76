//! Attachment and channel names from the export never lead outside the attachments folder.

use std::path::{Path, PathBuf};

use adapter_keybase::{ExportOptions, KeybaseExport, RejectReason, RejectScope};
use bridge_core::{Message, safe_file_name};

use super::fixtures::{fixture, read_all_sync};

/// Every message of every chat.
fn everything(export: &KeybaseExport) -> Vec<Message> {
    export
        .chats()
        .iter()
        .flat_map(|c| read_all_sync(export, c.chat.as_str()))
        .collect()
}

/// Asserts that every attachment handed out with bytes is a file inside `root`, and that
/// every other one says why it has none; returns how many have bytes.
fn all_inside(messages: &[Message], root: &Path) -> usize {
    let root = std::fs::canonicalize(root).unwrap();
    let mut n = 0;
    for a in messages.iter().flat_map(|m| &m.content.attachments) {
        if let Some(why) = a.unavailable_reason() {
            assert!(!why.is_empty(), "{:?} has no reason", a.name);
            assert!(!a.name.chars().any(char::is_control), "{:?}", a.name);
            continue;
        }
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
    assert!(
        all.iter().all(|m| m.content.attachments.len() == 1),
        "each keeps its attachment, if only as a note"
    );
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

/// A file name that could leave the folder is looked for under its safe name (as
/// `kbbridge export` stores it), inside the folder only; otherwise the copy gets a note.
#[cfg(unix)]
#[test]
fn unsafe_names_are_found_under_their_safe_name_and_never_outside() {
    use std::os::unix::fs::symlink;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    let general = root.join("attachments/acme#general");
    std::fs::create_dir_all(&general).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
    let names = [
        "../../etc/passwd",
        "a/b\\c.txt",
        "../../secret.txt",
        "../gone.txt",
    ];
    // 1 and 2 are stored under their safe names; 3's safe name links outside; 4 is absent.
    std::fs::write(general.join(format!("1-{}", safe_file_name(names[0]))), "p").unwrap();
    std::fs::write(
        general.join(format!("2-{}", safe_file_name(names[1]))),
        "abc",
    )
    .unwrap();
    symlink(
        tmp.path().join("secret.txt"),
        general.join(format!("3-{}", safe_file_name(names[2]))),
    )
    .unwrap();
    let body: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = serde_json::to_string(name).unwrap();
            format!(
                r#"{{"text":"f","id":{},"attachment":{{"filename":{name},"asset_type":0}},"sent_at":1,"sender_username":"a","channel_name":"acme#general"}}"#,
                i + 1
            )
        })
        .collect();
    std::fs::write(root.join("export.jsonl"), body.join("\n")).unwrap();

    let export = KeybaseExport::open(&root).unwrap();
    let all = everything(&export);
    assert_eq!(all_inside(&all, &root.join("attachments")), 2);
    let shown: Vec<(&str, Option<&str>)> = all
        .iter()
        .flat_map(|m| &m.content.attachments)
        .map(|a| (a.name.as_str(), a.unavailable_reason()))
        .collect();
    assert_eq!(shown[0], (safe_file_name(names[0]).as_str(), None));
    assert_eq!(shown[1], (safe_file_name(names[1]).as_str(), None));
    assert_eq!(shown[2].0, names[2], "shown under its own name in the note");
    assert!(
        shown[2].1.unwrap().contains("links to a file outside"),
        "{shown:?}"
    );
    assert_eq!(shown[3].0, names[3]);
    assert!(shown[3].1.unwrap().contains("safe name"), "{shown:?}");
    let s = export.stats();
    assert_eq!((s.attachments.found, s.attachments.rejected), (2, 2));
}

/// A missing file and an unreadable one still reach the sinks, as notes with a reason.
#[cfg(unix)]
#[test]
fn missing_and_unreadable_files_become_notes() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    let general = root.join("attachments/acme#general");
    std::fs::create_dir_all(&general).unwrap();
    let locked = general.join("2-locked.bin");
    std::fs::write(&locked, "12345").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let line = |id: u64, name: &str| {
        format!(
            r#"{{"text":"f","id":{id},"attachment":{{"filename":"{name}","asset_type":0}},"sent_at":1,"sender_username":"a","channel_name":"acme#general"}}"#
        )
    };
    let body = [line(1, "gone.pdf"), line(2, "locked.bin")];
    std::fs::write(root.join("export.jsonl"), body.join("\n")).unwrap();

    let export = KeybaseExport::open(&root).unwrap();
    let all = everything(&export);
    let gone = &all[0].content.attachments[0];
    assert_eq!(gone.name, "gone.pdf");
    assert_eq!(
        gone.not_copied(gone.unavailable_reason().unwrap()),
        "gone.pdf was not copied: it is missing from the export's attachments folder"
    );
    let locked_att = &all[1].content.attachments[0];
    // Root reads anything: then the file is simply found.
    if std::fs::File::open(&locked).is_err() {
        let why = locked_att.unavailable_reason().unwrap();
        assert!(why.contains("cannot be read"), "{why}");
        assert_eq!(locked_att.size, Some(5));
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o600)).unwrap();
}
