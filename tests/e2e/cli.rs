//! The CLI on the bundled sample: `check`, `plan`, `status`, and what bad input looks like.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use crate::support::{kbbridge as kbbridge_cmd, root, text};

fn sample_config() -> PathBuf {
    root().join("config/examples/sample.toml")
}

/// Runs `kbbridge` with a private database, so tests never touch each other's state.
fn kbbridge(db_dir: &Path, args: &[&str]) -> Output {
    let db = format!("sqlite://{}", db_dir.join("kbbridge.db").display());
    kbbridge_cmd()
        .args(args)
        .env("KBBRIDGE__DATABASE__URL", db)
        .output()
        .expect("run kbbridge")
}

#[test]
fn check_accepts_the_sample_and_finds_every_source_chat() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(dir.path(), &["--config", cfg.to_str().unwrap(), "check"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("mapping file is valid"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for chat in [
        "acme#general",
        "acme#random",
        "acme.ops#alerts",
        "alice,bob",
    ] {
        assert!(
            stdout.contains(&format!("{chat} has ")),
            "{chat} not checked:\n{stdout}"
        );
    }
}

#[test]
fn plan_counts_messages_per_link_and_estimates_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(dir.path(), &["--config", cfg.to_str().unwrap(), "plan"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let general = stdout
        .lines()
        .find(|l| l.contains("acme#general"))
        .unwrap_or_else(|| panic!("no row for acme#general:\n{stdout}"));
    let count: u64 = general
        .split_whitespace()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no message count in {general:?}"));
    assert!(
        count >= 20,
        "the sample's general channel has ~30 messages: {general}"
    );
    assert!(stdout.contains("message(s) to copy"), "{stdout}");
    assert!(stdout.contains("at the configured rates"), "{stdout}");
}

#[test]
fn plan_of_one_link_shows_only_that_link() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(
        dir.path(),
        &["-c", cfg.to_str().unwrap(), "plan", "--link", "random"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("acme#random"));
    assert!(!stdout.contains("acme#general"), "{stdout}");
}

#[test]
fn an_unknown_link_name_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(
        dir.path(),
        &["-c", cfg.to_str().unwrap(), "plan", "--link", "nope"],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no link is named \"nope\""), "{stderr}");
    assert!(stderr.contains("random"), "{stderr}");
}

#[test]
fn status_before_any_backfill_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(dir.path(), &["-c", cfg.to_str().unwrap(), "status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no backfill has run yet"));
}

#[test]
fn a_bad_config_reports_every_problem_with_its_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"
[keybase]
export = "nowhere.jsonl"

[[link]]
name = "a"
keybase = "acme#general"
matrx = "!x:y"

[[link]]
name = "a"
keybase = "not a chat"
discord = "12"
"#,
    )
    .unwrap();
    let out = kbbridge(dir.path(), &["-c", cfg.to_str().unwrap(), "check"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
    for key in [
        "link[0].matrx",
        "link[1].name",
        "link[1].keybase",
        "link[1].discord",
    ] {
        assert!(stderr.contains(key), "{key} not reported:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    let out = kbbridge(
        dir.path(),
        &[
            "-c",
            cfg.to_str().unwrap(),
            "--log-format",
            "json",
            "-v",
            "plan",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "-v should log something");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
}

/// Several `kbbridge` processes started together on a fresh SQLite database, many times: every
/// one opens (and the one that loses the race to create the schema finds it made).
#[test]
fn processes_racing_to_open_a_fresh_database_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config();
    for round in 0..8 {
        let db = format!(
            "sqlite://{}",
            dir.path().join(format!("r{round}.db")).display()
        );
        let children: Vec<_> = (0..4)
            .map(|_| {
                kbbridge_cmd()
                    .args(["-q", "-c", cfg.to_str().unwrap(), "status"])
                    .env("KBBRIDGE__DATABASE__URL", &db)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("run kbbridge")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
        }
    }
}
