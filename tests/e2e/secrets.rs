//! No secret leaves kbbridge, whatever fails: the binary backfills while connections drop
//! mid-send, at every verbosity (`-vv`, `RUST_LOG=trace`, `--log-format json`), and every byte
//! of its output and of its database files is searched for every token: the bot token and each
//! webhook token here, the appservice tokens in `matrix/secrets.rs`.
//!
//! The test can fail: it first shows the tokens were in use (requests authorised with them,
//! messages posted through the webhooks) and that the faults happened, and the trace run must
//! show a masked token (serenity records each request, webhook token included, in its spans).

use std::{
    collections::BTreeMap,
    path::Path,
    process::Output,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use discord_standin::{Fault, FaultTarget, Limits, StandIn, StandInOptions};

use crate::support::{kbbridge_on, root, text};

const CHATS: [&str; 4] = [
    "acme#general",
    "acme#random",
    "acme.ops#alerts",
    "alice,bob",
];

/// Every file under `dir`, by path (the database, its WAL and shared memory, the config…).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(path.display().to_string(), bytes);
            }
        }
    }
    out
}

/// Fails naming each place a token appears: `places` are (name, bytes).
pub fn assert_no_token(places: &[(String, Vec<u8>)], tokens: &[(&str, String)]) {
    let mut hits = Vec::new();
    for (what, token) in tokens {
        assert!(token.len() >= 8, "{what} is long enough to search for");
        for (place, bytes) in places {
            let n = bytes
                .windows(token.len())
                .filter(|w| *w == token.as_bytes())
                .count();
            if n > 0 {
                hits.push(format!("{what} {n} time(s) in {place}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets leaked: {hits:#?}");
}

/// A token nobody else uses.
pub fn fresh_token(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{nanos:x}-secret")
}

/// One verbosity of a run: its arguments before the command, and `RUST_LOG`.
pub const VERBOSITIES: [(&str, &[&str], Option<&str>); 3] = [
    ("-vv", &["-vv"], None),
    ("RUST_LOG=trace", &[], Some("trace")),
    ("json -vv", &["--log-format", "json", "-vv"], None),
];

/// A backfill of the sample export into a fresh stand-in, every 5th webhook send losing its
/// connection (alternately before and after the message is created).
async fn discord_run(name: &str, flags: &[&str], rust_log: Option<&str>) {
    let token = fresh_token("bot");
    let standin = StandIn::start(StandInOptions {
        token: token.clone(),
        limits: Limits::discord().scaled(0.1),
        ..StandInOptions::default()
    })
    .await
    .unwrap();
    standin.fault_every(
        5,
        FaultTarget::WebhookExecute,
        &[Fault::Drop, Fault::DropAfterCommit],
    );
    let dir = tempfile::tempdir().unwrap();
    let links: String = CHATS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!("[[link]]\nname = \"l{i}\"\nkeybase = \"{c}\"\ndiscord = \"auto\"\n\n")
        })
        .collect();
    let config = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n[keybase]\nexport = \"{export}\"\n\n\
         [discord]\nguild_id = \"{guild}\"\n\n\
         [backfill]\nparallel_links = 4\npage_size = 10\nretry_attempts = 12\n\
         retry_min_delay_ms = 50\nretry_max_delay_ms = 1000\n\n{links}",
        db = dir.path().join("kb.db").display(),
        export = root()
            .join("tests/fixtures/sample-export/export.jsonl")
            .display(),
        guild = standin.guild_id(),
    );
    std::fs::write(dir.path().join("kbbridge.toml"), config).unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), standin.ca_pem()).unwrap();

    let command = |args: &[&str]| {
        let mut cmd = kbbridge_on(&standin, ca.path());
        cmd.arg("--config")
            .arg(dir.path().join("kbbridge.toml"))
            .args(flags)
            .args(args)
            .env("KBBRIDGE__DISCORD__TOKEN", &token);
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        cmd
    };
    let mut cmd = command(&["backfill"]);
    let out: Output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{name}: kbbridge failed:\n{stderr}");

    // The tokens were in use and the faults happened.
    let stats = standin.stats();
    assert!(
        stats.dropped > 0 && stats.dropped_after_commit > 0,
        "{name}: {stats:?}"
    );
    let hooks = standin.webhooks();
    assert_eq!(hooks.len(), CHATS.len(), "{name}: one webhook per channel");
    for h in &hooks {
        assert!(
            !standin.messages(h.channel_id).is_empty(),
            "{name}: messages went through webhook {}",
            h.id
        );
    }
    assert!(
        stderr.contains("retrying") && stderr.contains("no answer from Discord"),
        "{name}: the lost connections were logged:\n{stderr}"
    );
    if rust_log == Some("trace") {
        assert!(
            stderr.contains("***"),
            "{name}: a token quoted by a dependency was masked"
        );
    }

    let mut places = vec![
        (format!("{name}: backfill stdout"), out.stdout),
        (format!("{name}: backfill stderr"), out.stderr),
    ];
    // What an operator runs next, on the same state (their outputs are searched too).
    for next in ["status", "check", "plan"] {
        let out = tokio::task::block_in_place(|| command(&[next]).output()).unwrap();
        places.push((format!("{name}: {next} stdout"), out.stdout));
        places.push((format!("{name}: {next} stderr"), out.stderr));
    }
    places.extend(
        files(dir.path())
            .into_iter()
            .map(|(p, b)| (format!("{name}: {p}"), b)),
    );
    assert!(
        places.iter().any(|(p, _)| p.ends_with("kb.db")),
        "{name}: the database is searched"
    );
    let mut tokens = vec![("the bot token", token.clone())];
    tokens.extend(hooks.iter().map(|h| ("a webhook token", h.token.clone())));
    assert_no_token(&places, &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_discord_token_in_any_output_or_row_while_connections_drop() {
    for (name, flags, rust_log) in VERBOSITIES {
        tokio::time::timeout(Duration::from_secs(300), discord_run(name, flags, rust_log))
            .await
            .unwrap_or_else(|_| panic!("{name}: the backfill did not end"));
    }
}
