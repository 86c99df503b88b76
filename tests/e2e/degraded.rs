//! Nothing dropped silently: an export whose attachments cannot all be copied (a name that
//! would leave the folder, a missing file, one over every target's size limit, links out of
//! the folder) backfilled by the binary into the Discord stand-in and into Synapse. Each copy
//! carries a note naming the file and why; the final log lines count them and
//! `kbbridge status` lists them. A name made safe by `kbbridge export` is used; nothing
//! outside the export folder is read.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use adapter_matrix::testing::{synapse, unique_prefix};
use bridge_core::safe_file_name;
use discord_standin::{StandIn, StandInOptions, TEXT};
use serde_json::Value;

use crate::support::{kbbridge, kbbridge_on, text};

const CHAT: &str = "acme#files";
/// What is outside the export folder, and must never reach a target.
const SECRET: &str = "outside the export: never copied";

/// (id, text, file name in the export); what happens to each is in [`NOTES`].
const LINES: [(u64, &str, Option<&str>); 8] = [
    (1, "unsafe name", Some("../../etc/passwd")),
    (2, "stored under its safe name", Some("a/b\\c.txt")),
    (3, "", Some("gone.pdf")),
    (4, "the image", Some("big.bin")),
    (5, "a link", Some("link.txt")),
    (6, "a safe name that links out", Some("../secret.txt")),
    (7, "holiday", Some("photo 1.jpg")),
    (8, "done", None),
];

/// The messages copied with a note, and the start of their note's reason.
const NOTES: [(u64, &str, &str); 5] = [
    (
        1,
        "../../etc/passwd",
        "its file name could lead outside the export folder",
    ),
    (
        3,
        "gone.pdf",
        "it is missing from the export's attachments folder",
    ),
    (4, "big.bin (60.0 MiB)", "larger than"),
    (
        5,
        "link.txt",
        "it links to a file outside the export folder",
    ),
    (
        6,
        "../secret.txt",
        "it links to a file outside the export folder",
    ),
];

/// Writes the export into `dir`; returns the JSON Lines file.
fn build_export(dir: &Path) -> PathBuf {
    let root = dir.join("export");
    let files = root.join("attachments").join(CHAT);
    fs::create_dir_all(&files).unwrap();
    let outside = dir.join("secret.txt");
    fs::write(&outside, SECRET).unwrap();
    let at = |id: u64, name: &str| files.join(format!("{id}-{}", safe_file_name(name)));
    fs::write(at(2, "a/b\\c.txt"), "safe copy").unwrap();
    // 60 MiB without using the disk: over Discord's 10 MiB and Synapse's 50 MiB.
    fs::File::create(at(4, "big.bin"))
        .unwrap()
        .set_len(60 << 20)
        .unwrap();
    std::os::unix::fs::symlink(&outside, at(5, "link.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, at(6, "../secret.txt")).unwrap();
    fs::write(at(7, "photo 1.jpg"), "jpeg!").unwrap();
    let lines: Vec<String> = LINES
        .iter()
        .map(|(id, text, file)| {
            let attachment = file
                .map(|f| {
                    format!(
                        r#""attachment":{{"filename":{},"asset_type":0}},"#,
                        serde_json::to_string(f).unwrap()
                    )
                })
                .unwrap_or_default();
            format!(
                r#"{{"text":"{text}","id":{id},{attachment}"sent_at":{},"sender_username":"alice","channel_name":"{CHAT}"}}"#,
                1_700_000_000 + id * 60
            )
        })
        .collect();
    let export = root.join("export.jsonl");
    fs::write(&export, lines.join("\n")).unwrap();
    export
}

/// Runs `cmd` to its end; panics with its output if it fails. Returns stdout and stderr.
fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("run kbbridge");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "kbbridge failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The JSON log lines of `stderr` whose message is `message`.
fn logged(stderr: &str, message: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

/// Checks the end of a backfill's log and `kbbridge status`.
fn check_report(stderr: &str, status: &str) {
    let complete = logged(stderr, "job complete");
    assert_eq!(complete.len(), 1, "{stderr}");
    assert_eq!(complete[0]["fields"]["degraded"], 5, "{}", complete[0]);
    assert_eq!(complete[0]["fields"]["copied"], 8, "{}", complete[0]);
    assert!(
        stderr.contains("some messages were copied without some attachments"),
        "{stderr}"
    );
    assert!(
        status.contains("copied without some attachments into ") && status.contains(" (5):"),
        "{status}"
    );
    for (id, shown, why) in NOTES {
        let line = format!("  {id}: {shown} was not copied: {why}");
        assert!(status.contains(&line), "no {line:?} in:\n{status}");
    }
    assert!(
        !status.contains("  2: ") && !status.contains("  7: "),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_copies_carry_a_note_for_each_file_not_copied() {
    let standin = StandIn::start(StandInOptions::default()).await.unwrap();
    let channel = standin.create_channel("files", TEXT, None);
    let dir = tempfile::tempdir().unwrap();
    let export = build_export(dir.path());
    let config = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n[keybase]\nexport = \"{export}\"\n\n\
         [discord]\nguild_id = \"{guild}\"\n\n\
         [[link]]\nname = \"files\"\nkeybase = \"{CHAT}\"\ndiscord = \"{channel}\"\n",
        db = dir.path().join("kb.db").display(),
        export = export.display(),
        guild = standin.guild_id(),
    );
    fs::write(dir.path().join("kbbridge.toml"), config).unwrap();
    fs::write(dir.path().join("ca.pem"), standin.ca_pem()).unwrap();
    let command = |args: &[&str]| {
        let mut cmd = kbbridge_on(&standin, &dir.path().join("ca.pem"));
        cmd.arg("--config")
            .arg(dir.path().join("kbbridge.toml"))
            .args(args)
            .env("KBBRIDGE__DISCORD__TOKEN", standin.token());
        cmd
    };
    let (_, stderr) = run(&mut command(&["--log-format", "json", "backfill"]));
    let (status, _) = run(&mut command(&["-q", "status"]));
    check_report(&stderr, &status);

    let got = standin.messages(channel);
    assert_eq!(got.len(), LINES.len(), "one message each, no duplicate");
    for m in &got {
        assert!(!m.content.contains(SECRET));
        for f in &m.files {
            assert_ne!(
                f.bytes,
                SECRET.as_bytes(),
                "a file outside the export was read"
            );
        }
    }
    let files: Vec<(&str, &[u8])> = got
        .iter()
        .flat_map(|m| {
            m.files
                .iter()
                .map(|f| (f.name.as_str(), f.bytes.as_slice()))
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                safe_file_name("a/b\\c.txt").as_str(),
                b"safe copy".as_slice()
            ),
            ("photo_1.jpg", b"jpeg!".as_slice()),
        ]
    );
    for (id, shown, why) in NOTES {
        let m = &got[id as usize - 1];
        assert!(m.files.is_empty(), "{id}");
        // Discord markdown escapes the name's `_` and `*`; these names have none.
        let note = format!("📎 *{shown} was not copied: {why}");
        assert!(m.content.contains(&note), "{id}: {:?}", m.content);
    }

    // A second run sends nothing and reports the same.
    let before = standin.all_messages().len();
    let (_, stderr) = run(&mut command(&["--log-format", "json", "backfill"]));
    assert_eq!(standin.all_messages().len(), before);
    let (status, _) = run(&mut command(&["-q", "status"]));
    check_report(&stderr, &status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_copies_carry_a_note_for_each_file_not_copied() {
    let synapse = synapse();
    let dir = tempfile::tempdir().unwrap();
    let export = build_export(dir.path());
    let config = format!(
        "[keybase]\nexport = {:?}\n\n[matrix]\nserver_name = \"localhost\"\n\n\
         [[link]]\nname = \"files\"\nkeybase = \"{CHAT}\"\nmatrix = \"auto\"\n",
        export.display().to_string()
    );
    fs::write(dir.path().join("kbbridge.toml"), config).unwrap();
    let prefix = unique_prefix();
    let command = |args: &[&str]| {
        let mut cmd = kbbridge();
        let db = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
        cmd.arg("--config")
            .arg(dir.path().join("kbbridge.toml"))
            .args(args)
            .env("KBBRIDGE__DATABASE__URL", db)
            .env("KBBRIDGE__MATRIX__HOMESERVER", synapse.url.as_str())
            .env("KBBRIDGE__MATRIX__SERVER_NAME", &synapse.server_name)
            .env("KBBRIDGE__MATRIX__AS_TOKEN", &synapse.as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", "ci_hs_token")
            .env("KBBRIDGE__MATRIX__GHOST_PREFIX", &prefix)
            .env("KBBRIDGE__MATRIX__BOT_LOCALPART", &synapse.bot_localpart);
        cmd
    };
    let (_, stderr) = run(&mut command(&["--log-format", "json", "backfill"]));
    let (status, _) = run(&mut command(&["-q", "status"]));
    check_report(&stderr, &status);

    let alias = format!("#{prefix}acme-files:{}", synapse.server_name);
    let read = synapse.read_back();
    let room = read.alias(&alias).await.unwrap();
    let events: Vec<Value> = read
        .messages(&room)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["content"].get(adapter_matrix::SOURCE_KEY).is_some())
        .collect();
    assert_eq!(events.len(), LINES.len(), "one event each, no duplicate");
    for (id, shown, why) in NOTES {
        let c = &events[id as usize - 1]["content"];
        let body = c["body"].as_str().unwrap();
        let note = format!("📎 {shown} was not copied: {why}");
        assert!(body.contains(&note), "{id}: {body:?}");
        assert!(c.get("url").is_none(), "{id}");
    }
    for (i, bytes) in [(1, b"safe copy".as_slice()), (6, b"jpeg!".as_slice())] {
        let c = &events[i]["content"];
        let url = c["url"].as_str().unwrap_or_else(|| panic!("{c}"));
        assert_eq!(read.download(url).await.unwrap(), bytes);
    }
}
