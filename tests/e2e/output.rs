//! What the commands write to standard output: a reader that goes away early
//! (`kbbridge plan | head -1`) ends the program quietly; names holding control characters
//! reach no terminal raw.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use bridge_core::{ChatRef, MappingStore, MsgId, MsgRef, Platform, store::Progress};

use crate::support::{kbbridge, root, text};

/// Runs `kbbridge ARGS` with stdout a pipe whose reading end is already closed, so the first
/// write fails with a broken pipe, whatever the timing; returns the exit code and stderr.
fn with_closed_stdout(db_dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    // The pipe: the stdin of a `true` that has already exited. Only the child held the reading
    // end, so once it is reaped nobody can read, and the write end is ours to hand on.
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("run true");
    let writer = reader.stdin.take().expect("piped stdin");
    reader.wait().expect("wait for true");
    let db = format!("sqlite://{}", db_dir.join("kbbridge.db").display());
    let out = kbbridge()
        .args(args)
        .env("KBBRIDGE__DATABASE__URL", db)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run kbbridge");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = root().join("config/examples/sample.toml");
    let cfg = cfg.to_str().unwrap();
    let export = root().join("tests/fixtures/sample-export");
    let export = export.to_str().unwrap();
    let commands: [&[&str]; 7] = [
        &["-c", cfg, "check"],
        &["-c", cfg, "plan"],
        &["-c", cfg, "status"],
        &["-c", cfg, "matrix-registration"],
        &["inspect", export],
        &["convert", export, "--to", "csv"],
        &["convert", export, "--to", "json"],
    ];
    for args in commands {
        let (code, stderr) = with_closed_stdout(dir.path(), args);
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
        assert_eq!(code, Some(0), "{args:?} exit code; stderr:\n{stderr}");
    }
}

/// A chat name that clears the screen, a sender that sets the window title and rings.
const CHAT: &str = "acme#gen\u{1b}[2Jeral";
const SENDER: &str = "al\u{1b}]0;pwned\u{7}";

/// Fails unless `out` succeeded, is free of raw ESC and BEL on both streams and shows `\u{1b}`
/// on stdout.
fn assert_escaped(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_escaped_text(what, out);
}

/// [`assert_escaped`] for a command expected to report problems (a `check` whose homeserver
/// is not running): the names in its report are escaped all the same.
fn assert_escaped_text(what: &str, out: &Output) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    for (name, stream) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !stream.contains(['\u{1b}', '\u{7}']),
            "{what}: raw control character on {name}: {stream:?}"
        );
    }
    assert!(stdout.contains("\\u{1b}"), "{what}: {stdout}");
}

/// An export (its file name has an ESC too, to reach the log lines) and a mapping file whose
/// link name and source chat hold [`CHAT`]'s control characters.
fn hostile_setup(dir: &Path) -> (String, String) {
    let export = dir.join("e\u{1b}[2J.jsonl");
    let line = serde_json::json!({"text": "hi \u{1b}[31mred", "id": 1, "sent_at": 1_700_000_000,
        "sender_username": SENDER, "channel_name": CHAT});
    std::fs::write(&export, format!("{line}\n")).unwrap();
    let config = dir.join("kbbridge.toml");
    let toml_string = |s: &str| serde_json::Value::from(s).to_string();
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = {db}\n\n[keybase]\nexport = {export}\n\n[matrix]\n\
             homeserver = \"http://127.0.0.1:8008\"\nserver_name = \"localhost\"\n\
             as_token = \"as\"\nhs_token = \"hs\"\n\n[[link]]\nname = {name}\n\
             keybase = {chat}\nmatrix = \"auto\"\nmode = \"backfill\"\n",
            db = toml_string(&format!("sqlite://{}", dir.join("kb.db").display())),
            export = toml_string(export.to_str().unwrap()),
            name = toml_string("gen\u{1b}[2J"),
            chat = toml_string(CHAT),
        ),
    )
    .unwrap();
    (
        export.to_str().unwrap().to_owned(),
        config.to_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn control_characters_in_names_are_escaped_in_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let (export, config) = hostile_setup(dir.path());
    let run = |args: &[&str]| kbbridge().args(args).output().expect("run kbbridge");
    assert_escaped("inspect", &run(&["inspect", &export]));
    assert_escaped("plan", &run(&["-c", &config, "plan"]));
    // No homeserver runs here: check reports it (exit 1), names escaped all the same.
    let check = run(&["-c", &config, "check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stdout));
    assert_escaped_text("check", &check);

    // A progress row and a rejection naming the hostile chat, as a backfill would leave them.
    let store = MappingStore::open(&format!("sqlite://{}", dir.path().join("kb.db").display()))
        .await
        .unwrap();
    let (from, to) = (
        ChatRef::new(Platform::Keybase, CHAT),
        ChatRef::new(Platform::Matrix, "!room\u{1b}[2J:localhost"),
    );
    store
        .save_progress(&Progress {
            from: from.clone(),
            to: to.clone(),
            cursor: None,
            copied: 0,
            skipped: 0,
            rejected: 1,
            done: false,
            updated_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let origin = MsgRef {
        platform: from.platform,
        chat: from.chat.clone(),
        msg: MsgId::new("1"),
    };
    store
        .mark_rejected(&origin, &to, 0, "refused: \u{1b}[2J")
        .await
        .unwrap();
    store.close().await;
    assert_escaped("status", &run(&["-c", &config, "status"]));

    // CSV on a terminal (a pseudo-terminal made by script(1)) is escaped; into a pipe or a
    // file it keeps the text as it is, since that is the data.
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = format!(
        "{} -q convert {} --to csv",
        quote(env!("CARGO_BIN_EXE_kbbridge")),
        quote(&export)
    );
    let on_terminal = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) (util-linux)");
    assert_escaped("convert --to csv on a terminal", &on_terminal);
    assert!(text(&on_terminal.stdout).contains("hi \\u{1b}[31mred"));
    let piped = run(&["-q", "convert", &export, "--to", "csv"]);
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert!(
        text(&piped.stdout).contains(&format!("{CHAT},1,")),
        "CSV into a pipe keeps the data: {}",
        text(&piped.stdout)
    );
}
