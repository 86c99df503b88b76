//! What the export layouts refuse: a folder that is no layout, or two (with the list of
//! layouts), databases that are not keybase-binding's, bad input (named by file and line in
//! every layout), and attachment names that would lead outside the export.

use std::path::{Path, PathBuf};

use adapter_keybase::{KeybaseError, KeybaseExport, RejectReason, export::ACCEPTED_LAYOUTS};

use super::{
    fixtures::read_all_sync,
    history::history,
    tools::{self, put},
};

/// The error `open` gives for `path`, which must be [`KeybaseError::UnknownLayout`].
fn refused(path: &Path) -> String {
    let err = KeybaseExport::open(path).expect_err("opened");
    assert!(
        matches!(err, KeybaseError::UnknownLayout { .. }),
        "{}: {err:?}",
        path.display()
    );
    let text = err.to_string();
    assert!(text.ends_with(ACCEPTED_LAYOUTS), "{text}");
    text
}

#[test]
fn a_folder_of_two_layouts_or_none_is_refused_with_the_list() {
    let events = history();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    for layout in [
        "keybase-export JSON Lines",
        "`keybase chat api` dump",
        "manifest.json",
        "Teams/<team>/<topic>/NNN.json",
        "keybase_export.sqlite",
        "teams/<team>/<topic>.json",
        "several of these",
    ] {
        assert!(ACCEPTED_LAYOUTS.contains(layout), "{layout}");
    }

    // keybase-export and keybase-binding in one folder.
    let mixed = root.join("mixed");
    tools::keybase_export(&events, &mixed);
    tools::binding_tree(&events, &mixed);
    let err = refused(&mixed);
    assert!(
        err.contains("export.jsonl (keybase-export JSON Lines)"),
        "{err}"
    );
    assert!(
        err.contains("Teams/ (dentropy/keybase-binding output folder)"),
        "{err}"
    );

    // keybase-binding and keybase-binding-nodejs (`Teams/` and `teams/` differ).
    let both = root.join("both");
    tools::binding_tree(&events, &both);
    let user = tools::nodejs(&events, &root.join("node"), "alice");
    std::fs::rename(
        user.join("team_memberships.json"),
        both.join("team_memberships.json"),
    )
    .unwrap();
    let err = refused(&both);
    assert!(err.contains("team_memberships.json"), "{err}");

    // A kbbridge manifest beside a keybase-export.
    let own = root.join("own");
    tools::keybase_export(&events, &own);
    put(&own.join("manifest.json"), "{}");
    assert!(refused(&own).contains("manifest.json (kbbridge export folder)"));

    // A folder of dumps with something else in it: refused, naming it.
    let dumps = root.join("dumps");
    tools::raw_dump_folder(&events, &dumps);
    put(&dumps.join("notes.txt"), "not an export\n");
    let err = refused(&dumps);
    assert!(err.contains("notes.txt is not an export"), "{err}");
    assert!(err.contains(&dumps.display().to_string()), "{err}");

    // Nothing there: an empty folder, a folder of only attachments or hidden files.
    let empty = root.join("empty");
    std::fs::create_dir_all(empty.join("attachments/acme#general")).unwrap();
    put(&empty.join(".DS_Store"), "x");
    assert!(refused(&empty).contains("holds no export"));

    // Tools' folders without their message files.
    let hollow = root.join("hollow");
    std::fs::create_dir_all(hollow.join("Teams")).unwrap();
    std::fs::create_dir_all(hollow.join("Attachments")).unwrap();
    assert!(refused(&hollow).contains("holds no message file"));
    let hollow_node = root.join("hollow-node");
    put(&hollow_node.join("team_memberships.json"), "[]");
    assert!(refused(&hollow_node).contains("holds no teams/<team>/<topic>.json"));
}

#[tokio::test]
async fn databases_that_are_not_keybase_binding_s_are_refused() {
    use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

    let root = tempfile::tempdir().unwrap();
    let other = root.path().join("other.sqlite");
    let mut conn = SqliteConnectOptions::new()
        .filename(&other)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE notes(text)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert!(refused(&other).contains("without keybase-binding's team_messages_t"));

    // A table of the right name without `message_json`.
    let odd = root.path().join("odd.sqlite");
    let mut conn = SqliteConnectOptions::new()
        .filename(&odd)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE team_messages_t(team_name, topic_name)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let err = KeybaseExport::open(&odd).unwrap_err();
    assert!(matches!(err, KeybaseError::Database { .. }), "{err:?}");
    assert!(err.to_string().contains("message_json"), "{err}");

    // An SQLite header over garbage: an error, not a panic.
    let broken = root.path().join("broken.sqlite");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(std::iter::repeat_n(0xAB, 4096));
    put(&broken, bytes);
    let err = KeybaseExport::open(&broken).unwrap_err();
    assert!(matches!(err, KeybaseError::Database { .. }), "{err:?}");
    assert!(err.to_string().contains(&broken.display().to_string()));
}

#[tokio::test]
async fn bad_input_is_reported_by_file_and_line_in_every_layout() {
    let events = history();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();

    // keybase-binding: a truncated page and a page with a malformed wrapper.
    let out = root.join("out");
    tools::binding_tree(&events, &out);
    let page = out.join("Teams/acme/general/002.json");
    let text = std::fs::read_to_string(&page).unwrap();
    put(&page, &text[..text.len() / 2]);
    let dm = out.join("DMs/alice,bob/001.json");
    let text = std::fs::read_to_string(&dm).unwrap();
    let pretty: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pretty = serde_json::to_string_pretty(&pretty).unwrap();
    let broken = pretty.replacen("\"sent_at\":", "\"sent_at\"::", 1);
    put(&dm, &broken);
    let export = KeybaseExport::open(&out).unwrap();
    let rejects: Vec<_> = export
        .rejects()
        .iter()
        .map(|r| (r.file.clone(), r.line, r.reason))
        .collect();
    let bad_line = broken.lines().position(|l| l.contains("::")).unwrap();
    // The wrapper holding it opens on the last `  {` line before it.
    let wrapper_line = broken.lines().take(bad_line).collect::<Vec<_>>();
    let wrapper_line = wrapper_line.iter().rposition(|l| *l == "  {").unwrap() as u64 + 1;
    assert!(
        rejects
            .iter()
            .any(|(f, line, why)| *f == page && *line == 1 && *why == RejectReason::Malformed),
        "{rejects:?}"
    );
    assert!(
        rejects.iter().any(|(f, line, why)| *f == dm
            && *line == wrapper_line
            && *why == RejectReason::Malformed),
        "{rejects:?}"
    );
    assert!(export.stats().balanced());
    assert!(!export.chats().is_empty(), "the rest is read");

    // The database: a row that is not JSON, and a NULL row, reported by table and row.
    let db_dir = root.join("db");
    let db = tools::binding_sqlite(&events, &db_dir).await;
    {
        use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};
        let mut conn = SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO team_messages_t VALUES('acme', 'general', '{\"msg\": {\"id\": 99,')",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("INSERT INTO group_messages_t VALUES('alice,bob', NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let export = KeybaseExport::open(&db).unwrap();
    let rows = |convs: std::ops::Range<usize>| -> u64 {
        convs
            .map(|c| super::history::listed(&events, c).len() as u64)
            .sum()
    };
    let rejects: Vec<_> = export
        .rejects()
        .iter()
        .map(|r| (r.file.display().to_string(), r.line, r.reason))
        .collect();
    let label = |t: &str| format!("{}[{t}]", db.display());
    assert_eq!(
        rejects,
        [
            (
                label("team_messages_t"),
                rows(0..3) + 1,
                RejectReason::Malformed
            ),
            (
                label("group_messages_t"),
                rows(3..4) + 1,
                RejectReason::Malformed
            ),
        ]
    );
    assert!(export.stats().balanced());
    assert_eq!(export.chats().len(), 4);

    // keybase-binding-nodejs: a topic file cut short.
    let user = tools::nodejs(&events, &root.join("node"), "alice");
    let topic = user.join("teams/acme/random.json");
    let text = std::fs::read_to_string(&topic).unwrap();
    put(&topic, &text[..text.len() - 40]);
    let export = KeybaseExport::open(&user).unwrap();
    let r = export.rejects().iter().find(|r| r.file == topic).unwrap();
    assert_eq!((r.line, r.reason), (1, RejectReason::Malformed));
    assert!(r.detail.contains("truncated"), "{}", r.detail);
}

#[test]
fn hostile_attachment_names_never_lead_outside_the_export() {
    use super::history::{Body, Event, uid};

    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let secret = root.join("secret.txt");
    put(&secret, "secret");
    let mut events = history();
    let hostile = [
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/etc/shadow",
        "linked.txt",
        "ok.txt",
    ];
    for (i, name) in hostile.iter().enumerate() {
        events.push(Event {
            conv: 0,
            id: 100 + i as u64,
            sender: "mallory",
            ms: 1_700_000_000_000 + i as i64,
            body: Body::Attachment {
                filename: name,
                title: "look",
                data: b"harmless",
            },
        });
    }
    // The writers store only names a file system can take: the hostile ones are nowhere.
    let out = root.join("out");
    tools::binding_tree(&events, &out);
    let user = tools::nodejs(&events, &root.join("node"), "alice");
    // Files of the right names that link outside the export.
    let linked = [
        out.join("Attachments")
            .join(format!("{}-1700000000003-linked.txt", uid("mallory"))),
        user.join("teams/attachments/acme.general.103.txt"),
    ];
    for link in &linked {
        std::fs::remove_file(link).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, link).unwrap();
    }

    // (export, its folder, messages whose attachment is refused).
    let cases = [
        (
            KeybaseExport::open(&out).unwrap(),
            &out,
            vec![100, 101, 102, 103],
        ),
        // nodejs names files by extension only: `..\\..\\boot.ini` is `….101.ini` (absent).
        (
            KeybaseExport::open(&user).unwrap(),
            &user,
            vec![100, 102, 103],
        ),
    ];
    for (export, folder, refused) in cases {
        let layout = export.layout();
        let messages = read_all_sync(&export, "acme#general");
        let folder = std::fs::canonicalize(folder).unwrap();
        let handed: Vec<_> = messages
            .iter()
            .flat_map(|m| &m.content.attachments)
            .filter(|a| a.unavailable_reason().is_none())
            .map(|a| PathBuf::from(a.data.describe()))
            .collect();
        assert_eq!(handed.len(), 2, "{layout}: the sunset and ok.txt");
        for f in &handed {
            assert!(f.starts_with(&folder), "{layout}: {}", f.display());
        }
        for id in 100..105 {
            let m = messages
                .iter()
                .find(|m| m.origin.msg.as_str() == id.to_string())
                .unwrap_or_else(|| panic!("{layout}: message {id} replays"));
            assert_eq!(
                m.content.attachments.len(),
                1,
                "{layout}: {id} keeps a note"
            );
        }
        let mut rejected: Vec<u64> = export
            .rejects()
            .iter()
            .filter(|r| {
                matches!(
                    r.reason,
                    RejectReason::UnsafeAttachmentPath | RejectReason::AttachmentOutsideDir
                )
            })
            .filter_map(|r| r.id)
            .collect();
        rejected.sort_unstable();
        #[cfg(unix)]
        assert_eq!(rejected, refused, "{layout}: {:?}", export.rejects());
        let _ = refused;
        assert!(export.stats().balanced());
    }
}
