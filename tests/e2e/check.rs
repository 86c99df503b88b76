//! `kbbridge check` through the binary: it asks each target what backfill will need, "auto"
//! targets included, and fails, naming the problem, for a wrong Discord token, a guild the bot
//! is not in, missing permissions, an unreachable homeserver, a wrong as_token, an
//! unregistered appservice, and a PostgreSQL that refuses connections (within 5 s).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use adapter_matrix::testing::{synapse, unique_prefix};
use discord_standin::{BOT_DEFAULT, Limits, StandIn, StandInOptions};
use tempfile::TempDir;

use crate::support::{kbbridge, kbbridge_on, root, text};

const CHATS: [&str; 2] = ["acme#general", "acme#random"];

fn export() -> PathBuf {
    root().join("tests/fixtures/sample-export/export.jsonl")
}

/// A mapping file with one "auto" link per chat into `target` (`discord` or `matrix`), and a
/// `[discord]` section for `guild` when given.
fn mapping(dir: &Path, target: &str, guild: Option<u64>) -> PathBuf {
    let mut toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[keybase]\nexport = {:?}\n\n",
        dir.join("kb.db").display(),
        export().display().to_string()
    );
    if let Some(guild) = guild {
        toml.push_str(&format!("[discord]\nguild_id = \"{guild}\"\n\n"));
    }
    if target == "matrix" {
        toml.push_str("[matrix]\nserver_name = \"localhost\"\n\n");
    }
    for (i, chat) in CHATS.iter().enumerate() {
        toml.push_str(&format!(
            "[[link]]\nname = \"l{i}\"\nkeybase = {chat:?}\n{target} = \"auto\"\n\n"
        ));
    }
    let path = dir.join("kbbridge.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `kbbridge check`: (success, stdout, stderr, how long it took).
fn check(mut cmd: std::process::Command, config: &Path) -> (bool, String, String, Duration) {
    let started = Instant::now();
    let out = cmd
        .arg("-q")
        .arg("--config")
        .arg(config)
        .arg("check")
        .output()
        .expect("run kbbridge");
    (
        out.status.success(),
        text(&out.stdout),
        text(&out.stderr),
        started.elapsed(),
    )
}

/// The one line of `stdout` that starts (after indentation) with `subject: problem:`.
fn problem<'a>(stdout: &'a str, subject: &str) -> &'a str {
    let prefix = format!("{subject}: problem: ");
    stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no problem for {subject}:\n{stdout}"))
}

struct Discord {
    standin: StandIn,
    dir: TempDir,
    config: PathBuf,
}

async fn discord() -> Discord {
    let standin = StandIn::start(StandInOptions {
        limits: Limits::discord(),
        ..StandInOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), standin.ca_pem()).unwrap();
    let config = mapping(dir.path(), "discord", Some(standin.guild_id()));
    Discord {
        standin,
        dir,
        config,
    }
}

impl Discord {
    fn command(&self, token: &str) -> std::process::Command {
        let mut cmd = kbbridge_on(&self.standin, &self.dir.path().join("ca.pem"));
        cmd.env("KBBRIDGE__DISCORD__TOKEN", token);
        cmd
    }

    fn check(&self) -> (bool, String, String, Duration) {
        check(self.command(self.standin.token()), &self.config)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_a_ready_discord_guild_with_auto_channels() {
    let d = discord().await;
    let (ok, stdout, stderr, _) = d.check();
    assert!(ok, "{stdout}\n{stderr}");
    for line in [
        "token: the bot token is valid",
        "guild: the bot is in server",
        "permissions: the bot has what backfill needs",
        "l0: the discord chat is made on the first backfill",
        "everything checks out",
    ] {
        assert!(stdout.contains(line), "no {line:?}:\n{stdout}");
    }
    // Nothing was created or changed by the check.
    assert!(d.standin.channels().is_empty());
    assert!(d.standin.webhooks().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_on_a_wrong_discord_token() {
    let d = discord().await;
    let (ok, stdout, stderr, _) = check(d.command("wrong-token-123"), &d.config);
    assert!(!ok, "a wrong token must fail the check:\n{stdout}");
    assert!(
        problem(&stdout, "token").contains("the bot token is wrong"),
        "{stdout}"
    );
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
    assert!(!format!("{stdout}{stderr}").contains("wrong-token-123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_on_a_guild_the_bot_is_not_in() {
    let d = discord().await;
    let config = mapping(d.dir.path(), "discord", Some(d.standin.other_guild_id()));
    let (ok, stdout, _, _) = check(d.command(d.standin.token()), &config);
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "guild");
    assert!(
        line.contains(&format!(
            "the bot is not in server {}",
            d.standin.other_guild_id()
        )),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_on_missing_permissions_and_names_each() {
    let d = discord().await;
    // Discord's permission bits.
    const VIEW_CHANNEL: u64 = 1 << 10;
    const MANAGE_CHANNELS: u64 = 1 << 4;
    const SEND_MESSAGES: u64 = 1 << 11;
    d.standin
        .set_role_permissions(d.standin.guild_id(), VIEW_CHANNEL);
    let without = BOT_DEFAULT & !MANAGE_CHANNELS & !SEND_MESSAGES;
    d.standin
        .set_role_permissions(d.standin.bot_role_id(), without);
    let (ok, stdout, _, _) = d.check();
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "permissions");
    assert!(
        line.contains("lacks Manage Channels, Send Messages in server"),
        "{line}"
    );
}

/// `kbbridge` pointed at the test Synapse, with these tokens and this homeserver.
fn matrix_command(dir: &Path, homeserver: &str, as_token: &str) -> std::process::Command {
    let s = synapse();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let mut cmd = kbbridge();
    cmd.env("KBBRIDGE__MATRIX__HOMESERVER", homeserver)
        .env("KBBRIDGE__MATRIX__SERVER_NAME", &s.server_name)
        .env("KBBRIDGE__MATRIX__AS_TOKEN", as_token)
        .env("KBBRIDGE__MATRIX__HS_TOKEN", "ci_hs_token")
        .env("KBBRIDGE__MATRIX__LISTEN", listen.to_string())
        .env("KBBRIDGE__MATRIX__GHOST_PREFIX", unique_prefix())
        .env("KBBRIDGE__MATRIX__BOT_LOCALPART", &s.bot_localpart)
        .current_dir(dir);
    cmd
}

#[test]
fn check_passes_a_registered_appservice_and_notes_what_it_could_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let s = synapse();
    let cmd = matrix_command(dir.path(), s.url.as_str(), &s.as_token);
    let (ok, stdout, stderr, _) = check(cmd, &config);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("as_token: the homeserver accepts the as_token"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hs_token: note: the registration has no url"),
        "{stdout}"
    );
    assert!(
        stdout.contains("everything backfill needs checks out (1 note(s) above)"),
        "{stdout}"
    );
}

#[test]
fn check_fails_on_an_unreachable_homeserver() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let cmd = matrix_command(dir.path(), "http://127.0.0.1:1", "any-token");
    let (ok, stdout, _, took) = check(cmd, &config);
    assert!(!ok, "{stdout}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let line = problem(&stdout, "homeserver");
    assert!(
        line.contains("cannot reach the homeserver at http://127.0.0.1:1"),
        "{line}"
    );
    assert_eq!(line.matches("Connection refused").count(), 1, "{line}");
}

#[test]
fn check_fails_on_a_wrong_as_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let cmd = matrix_command(dir.path(), synapse().url.as_str(), "not-the-as-token");
    let (ok, stdout, stderr, _) = check(cmd, &config);
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "as_token");
    assert!(
        line.contains("appservice not registered or as_token wrong"),
        "{line}"
    );
    assert!(!format!("{stdout}{stderr}").contains("not-the-as-token"));
}

/// The registration `kbbridge matrix-registration` prints, never given to the homeserver.
#[test]
fn check_fails_on_an_unregistered_appservice() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let s = synapse();
    let (as_token, hs_token) = (
        adapter_matrix::registration::new_token(),
        adapter_matrix::registration::new_token(),
    );
    let mut cmd = matrix_command(dir.path(), s.url.as_str(), &as_token);
    cmd.env("KBBRIDGE__MATRIX__HS_TOKEN", &hs_token);
    let (ok, stdout, _, _) = check(cmd, &config);
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "as_token");
    assert!(line.contains("appservice not registered"), "{line}");
    assert!(line.contains("kbbridge matrix-registration"), "{line}");
}

#[test]
fn check_fails_fast_on_a_postgres_that_refuses_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let s = synapse();
    let mut cmd = matrix_command(dir.path(), s.url.as_str(), &s.as_token);
    cmd.env(
        "KBBRIDGE__DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/test",
    );
    let (ok, stdout, stderr, took) = check(cmd, &config);
    assert!(!ok, "{stdout}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let line = problem(&stdout, "database");
    assert!(
        line.contains("cannot open the database postgres://postgres@127.0.0.1:1/test"),
        "{line}"
    );
    assert_eq!(line.matches("Connection refused").count(), 1, "{line}");
    assert!(!line.contains("timed out"), "{line}");
    // The other checks still ran: every problem is reported, not only the first.
    assert!(
        stdout.contains("as_token: the homeserver accepts"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
}

/// A linked chat missing from the export, and an export that cannot be read: each named, and
/// the other checks still run.
#[test]
fn check_fails_on_a_chat_missing_from_the_export_and_on_an_unreadable_export() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, toml.replace("\"acme#random\"", "\"acme#nope\"")).unwrap();
    let s = synapse();
    let (ok, stdout, _, _) = check(
        matrix_command(dir.path(), s.url.as_str(), &s.as_token),
        &config,
    );
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "l1");
    assert!(
        line.contains("no chat `acme#nope` in the Keybase export"),
        "{line}"
    );
    assert!(stdout.contains("l0: keybase:acme#general has "), "{stdout}");
    assert!(stdout.contains("1 problem(s)"), "{stdout}");

    let missing = dir.path().join("nowhere.jsonl");
    let toml = std::fs::read_to_string(&config).unwrap();
    let exported = format!("{:?}", export().display().to_string());
    let toml = toml.replace(&exported, &format!("{:?}", missing.display().to_string()));
    std::fs::write(&config, toml).unwrap();
    let (ok, stdout, _, _) = check(
        matrix_command(dir.path(), s.url.as_str(), &s.as_token),
        &config,
    );
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "export");
    assert!(line.contains("nowhere.jsonl"), "{line}");
    assert_eq!(
        line.matches("(os error 2)").count(),
        1,
        "each cause once: {line}"
    );
    assert!(
        stdout.contains("as_token: the homeserver accepts"),
        "{stdout}"
    );
}

/// A named room the bot is not in is a problem of its link; the "auto" one is fine.
#[test]
fn check_fails_on_a_named_room_the_bot_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = mapping(dir.path(), "matrix", None);
    let toml = std::fs::read_to_string(&config).unwrap();
    let named = toml.replacen(
        "keybase = \"acme#random\"\nmatrix = \"auto\"",
        "keybase = \"acme#random\"\nmatrix = \"!nosuchroom:localhost\"",
        1,
    );
    assert_ne!(named, toml);
    std::fs::write(&config, named).unwrap();
    let s = synapse();
    let (ok, stdout, _, _) = check(
        matrix_command(dir.path(), s.url.as_str(), &s.as_token),
        &config,
    );
    assert!(!ok, "{stdout}");
    let line = problem(&stdout, "l1");
    assert!(line.contains("matrix:!nosuchroom:localhost"), "{line}");
    assert!(
        stdout.contains("l0: the matrix chat is made on the first backfill"),
        "{stdout}"
    );
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
}
