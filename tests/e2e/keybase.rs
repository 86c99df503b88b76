//! `kbbridge inspect`, `convert` and `export` (issue 3): the sample export, and an export from
//! the stand-in `keybase` (test equipment, `tests/standins/keybase`) read back by `inspect` and
//! `plan`.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use crate::support::{kbbridge as kbbridge_cmd, keybase_standin as standin, root, text};

fn sample() -> PathBuf {
    root().join("tests/fixtures/sample-export")
}

/// Runs `kbbridge` without a mapping file (none of these verbs needs one).
fn kbbridge(dir: &Path, args: &[&str]) -> Output {
    kbbridge_cmd()
        .args(["--config", dir.join("absent.toml").to_str().unwrap()])
        .args(args)
        .output()
        .expect("run kbbridge")
}

#[test]
fn inspect_lists_every_channel_of_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let out = kbbridge(dir.path(), &["inspect", sample().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let general = stdout
        .lines()
        .find(|l| l.starts_with("acme#general"))
        .unwrap();
    let cols: Vec<&str> = general.split_whitespace().collect();
    assert_eq!(
        (cols[1], cols[2]),
        ("30", "5"),
        "messages and senders: {general}"
    );
    assert_eq!(cols[5], "3/1", "attachments present/missing: {general}");
    assert!(stdout.contains("4 channel(s), 54 message(s)"), "{stdout}");
}

#[test]
fn convert_writes_json_csv_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let export = sample();
    let export = export.to_str().unwrap();
    let csv = kbbridge(dir.path(), &["convert", export, "--to", "csv"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let csv = text(&csv.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("conversation,id,time,sender,text,reply_to,attachment,reactions")
    );
    assert_eq!(
        lines.next(),
        Some("acme#general,1,2021-03-01T09:00:00.000Z,alice,alice created the team acme,,,")
    );

    let json_path = dir.path().join("rows.json");
    let out = kbbridge(
        dir.path(),
        &[
            "convert",
            export,
            "--to",
            "json",
            "--out",
            json_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(rows.len(), 54);
    let with_file = rows.iter().find(|r| r["attachment"].is_string()).unwrap();
    assert_eq!(with_file["attachment"], "acme#general/23-whiteboard.png");

    let xlsx = dir.path().join("rows.xlsx");
    let out = kbbridge(
        dir.path(),
        &[
            "convert",
            export,
            "--to",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read(&xlsx).unwrap().starts_with(b"PK"),
        "an XLSX file is a zip"
    );
    let out = kbbridge(dir.path(), &["convert", export, "--to", "xlsx"]);
    assert!(!out.status.success() && text(&out.stderr).contains("--out"));
}

#[test]
fn export_from_the_standin_then_inspect_and_plan_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("keybase-home");
    let write = |name: &str, content: &str| {
        let path = home.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    write("users.json", r#"{"me": "alice"}"#);
    write(
        "teams.json",
        r#"{"acme": {"members": {"alice": "owner", "bob": "writer"}}}"#,
    );
    write(
        "conversations.json",
        r#"[{"name": "acme", "topic_name": "general"}]"#,
    );
    write(
        "messages/acme#general.jsonl",
        "{\"id\":1,\"sender\":\"alice\",\"sent_at_ms\":1600000000000,\"type\":\"text\",\"body\":\"hi\"}\n\
         {\"id\":2,\"sender\":\"bob\",\"sent_at_ms\":1600000001000,\"type\":\"text\",\"body\":\"hello\",\"reply_to\":1}\n",
    );
    let out_dir = dir.path().join("export");
    let (binary, out_s) = (standin(), out_dir.to_str().unwrap().to_owned());
    let args = [
        "export",
        &out_s,
        "--chats",
        "--binary",
        binary.to_str().unwrap(),
        "--home",
        home.to_str().unwrap(),
    ];
    let out = kbbridge(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("1 conversation(s), 2 new message(s)"),
        "{}",
        text(&out.stdout)
    );
    let again = kbbridge(dir.path(), &args);
    assert!(
        text(&again.stdout).contains("0 new message(s) in 1 page(s)"),
        "{}",
        text(&again.stdout)
    );

    let out = kbbridge(dir.path(), &["inspect", &out_s]);
    assert!(
        text(&out.stdout).contains("(Kbbridge)"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with("acme#general") && l.split_whitespace().nth(1) == Some("2"))
    );

    let cfg = dir.path().join("kbbridge.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[keybase]\nexport = \"{out_s}\"\n\n[matrix]\n\
             homeserver = \"http://127.0.0.1:8008\"\nserver_name = \"localhost\"\n\
             as_token = \"as\"\nhs_token = \"hs\"\n\n[[link]]\nname = \"general\"\n\
             keybase = \"acme#general\"\nmatrix = \"auto\"\nmode = \"backfill\"\n",
            dir.path().join("kb.db").display()
        ),
    )
    .unwrap();
    let out = kbbridge_cmd()
        .args(["--config", cfg.to_str().unwrap(), "plan"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let row = stdout.lines().find(|l| l.contains("acme#general")).unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("2"), "{row}");
}

#[test]
fn convert_neutralises_formulas_in_csv_and_keeps_them_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.jsonl");
    let line = |id: u32, sender: &str, text: &str| {
        serde_json::json!({"text": text, "id": id, "sent_at": 1_700_000_000 + id,
            "sender_username": sender, "channel_name": "acme#general"})
        .to_string()
    };
    let texts = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "safe"];
    let mut lines: Vec<String> = (1..).zip(texts).map(|(i, t)| line(i, "al", t)).collect();
    lines.push(line(9, "@mallory", "hi"));
    std::fs::write(&export, lines.join("\n")).unwrap();
    let export = export.to_str().unwrap();

    let out = kbbridge(dir.path(), &["convert", export, "--to", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (&*r[3], &*r[4])).collect();
    assert_eq!(
        got,
        [
            ("al", "'=1+1"),
            ("al", "'+1"),
            ("al", "'-1"),
            ("al", "'@SUM(A1)"),
            ("al", "'\tx"),
            ("al", "safe"),
            ("'@mallory", "hi"),
        ],
        "{csv}"
    );

    let out = kbbridge(dir.path(), &["convert", export, "--to", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(got[..5], texts[..5]);
    assert_eq!(rows[6]["sender"], "@mallory");
}

#[test]
fn an_export_with_nothing_readable_fails_inspect_and_plan_with_the_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = adapter_keybase::export::ACCEPTED_LAYOUTS;
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.txt");
    std::fs::write(&garbage, "not an export\n\u{1}\u{2}\n").unwrap();
    for file in [&empty, &garbage] {
        let out = kbbridge(dir.path(), &["inspect", file.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(layouts), "{stderr}");
        assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
        assert!(!text(&out.stdout).contains("channel(s)"), "no empty table");
    }

    let cfg = dir.path().join("kbbridge.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[keybase]\nexport = \"{}\"\n\n[matrix]\n\
             homeserver = \"http://127.0.0.1:8008\"\nserver_name = \"localhost\"\n\
             as_token = \"as\"\nhs_token = \"hs\"\n\n[[link]]\nname = \"general\"\n\
             keybase = \"acme#general\"\nmatrix = \"auto\"\nmode = \"backfill\"\n",
            dir.path().join("kb.db").display(),
            garbage.display()
        ),
    )
    .unwrap();
    for command in ["plan", "backfill"] {
        let out = kbbridge_cmd()
            .args(["--config", cfg.to_str().unwrap(), command])
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains(layouts), "{command}: {stderr}");
    }

    // Some good lines among bad ones: read, with each bad line named by file and line.
    let mixed = root().join("adapter-keybase/tests/fixtures/bad-lines.jsonl");
    let out = kbbridge(dir.path(), &["inspect", mixed.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        text(&out.stdout).contains("5 message(s)"),
        "{}",
        text(&out.stdout)
    );
    let line2 = stderr
        .lines()
        .find(|l| l.contains("line=2 "))
        .unwrap_or_else(|| panic!("line 2 not reported:\n{stderr}"));
    assert!(line2.contains("bad-lines.jsonl"), "{line2}");
}

#[test]
fn inspect_shows_one_reject_count_in_its_log_line_and_its_table() {
    let dir = tempfile::tempdir().unwrap();
    // Unsafe attachment names: the messages are kept, their attachments refused.
    let hostile = root().join("adapter-keybase/tests/fixtures/hostile/export.jsonl");
    let out = kbbridge(dir.path(), &["inspect", hostile.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let field = |name: &str| -> u64 {
        let line = stderr
            .lines()
            .find(|l| l.contains("read Keybase export"))
            .unwrap_or_else(|| panic!("no summary log line:\n{stderr}"));
        let value = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= in {line}"));
        value.parse().unwrap()
    };
    let logged = field("rejects");
    assert!(logged > 0, "{stderr}");
    // The table's column, summed, and the totals line say the same.
    let column: u64 = stdout
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(column, logged, "{stdout}");
    let whole = field("rejected_lines");
    assert!(
        stdout.contains(&format!("{logged} reject(s): {whole} whole line(s)")),
        "{stdout}"
    );
}
