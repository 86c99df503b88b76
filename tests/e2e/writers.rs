//! One writer per link, through the real binary against the Discord stand-in: several
//! `kbbridge backfill` processes started together on one mapping file (SQLite and PostgreSQL),
//! a holder killed with SIGKILL and taken over after its lease expires, and a restart while the
//! channels are still being created under a tight creation bucket.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Stdio},
    str::FromStr,
    time::{Duration, Instant},
};

use adapter_discord::{
    config::{ReactionStyle, TimeFormat},
    convert::{self, Style},
};
use adapter_keybase::KeybaseExport;
use bridge_core::{ChatId, HistorySource, Mode};
use discord_standin::{
    BucketLimit, Fault, FaultTarget, Limits, RecordedMessage, StandIn, StandInOptions,
};
use sqlx::{Connection, Executor, postgres::PgConnection};

use crate::support::{kbbridge, kbbridge_on, root, text};

const CHATS: [&str; 4] = [
    "acme#general",
    "acme#random",
    "acme.ops#alerts",
    "alice,bob",
];

/// A backfill of the sample export into "auto" channels of one guild.
struct Setup {
    standin: StandIn,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new(limits: Limits, database: &str, lease_seconds: u32) -> Self {
        let standin = StandIn::start(StandInOptions {
            limits,
            ..StandInOptions::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database = database.replace("{dir}", &dir.path().display().to_string());
        let links: String = CHATS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!("[[link]]\nname = \"l{i}\"\nkeybase = \"{c}\"\ndiscord = \"auto\"\n\n")
            })
            .collect();
        let config = format!(
            "[database]\nurl = \"{database}\"\n\n[keybase]\nexport = \"{export}\"\n\n\
             [discord]\nguild_id = \"{guild}\"\n\n\
             [backfill]\nparallel_links = 2\npage_size = 5\nretry_attempts = 12\n\
             retry_min_delay_ms = 50\nretry_max_delay_ms = 1000\nlease_seconds = {lease_seconds}\n\n\
             {links}",
            export = export().display(),
            guild = standin.guild_id(),
        );
        std::fs::write(dir.path().join("kbbridge.toml"), config).unwrap();
        std::fs::write(dir.path().join("ca.pem"), standin.ca_pem()).unwrap();
        Self { standin, dir }
    }

    fn spawn(&self) -> Child {
        kbbridge_on(&self.standin, &self.dir.path().join("ca.pem"))
            .arg("--config")
            .arg(self.dir.path().join("kbbridge.toml"))
            .args(["--log-format", "json", "backfill"])
            .env("KBBRIDGE__DISCORD__TOKEN", self.standin.token())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kbbridge")
    }

    /// `kbbridge status`, without the Discord token: it reads the database only.
    fn status(&self) -> String {
        let out = kbbridge()
            .arg("--config")
            .arg(self.dir.path().join("kbbridge.toml"))
            .args(["-q", "status"])
            .output()
            .expect("run kbbridge status");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Every message of the sample once, in the channel made for its chat; one category per
    /// team and one channel per chat (no second one made by a racing process).
    async fn check_exactly_once(&self) {
        let channels = self.standin.channels();
        let mut names: Vec<(u8, &str)> =
            channels.iter().map(|c| (c.kind, c.name.as_str())).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(
            names.len(),
            before,
            "a channel or category was made twice: {channels:?}"
        );
        let texts: Vec<_> = channels.iter().filter(|c| c.kind == 0).collect();
        assert_eq!(texts.len(), CHATS.len(), "{channels:?}");

        let mut expected_total = 0;
        let export = KeybaseExport::open(export()).unwrap();
        let style = Style {
            time: TimeFormat::Prefix,
            reactions: ReactionStyle::Line,
        };
        for chat in CHATS {
            let page = export.page(&ChatId::new(chat), None, 1000).await.unwrap();
            expected_total += page
                .messages
                .iter()
                .map(|m| convert::plan(m, style, Mode::Backfill).len())
                .sum::<usize>();
        }
        let got: Vec<RecordedMessage> = self
            .standin
            .all_messages()
            .into_iter()
            .filter(|m| !m.deleted)
            .collect();
        let mut seen: BTreeMap<(u64, &str, &str), usize> = BTreeMap::new();
        for m in &got {
            *seen
                .entry((m.channel_id, m.author_name.as_str(), m.content.as_str()))
                .or_default() += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "sent more than once: {twice:?}");
        assert_eq!(
            got.len(),
            expected_total,
            "every part of every message, once"
        );
    }
}

fn export() -> PathBuf {
    root().join("tests/fixtures/sample-export/export.jsonl")
}

/// Waits for `child` and returns (success, stdout, stderr).
async fn finish(child: Child) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Starts `n` backfills at once on one mapping file; all must succeed.
async fn together(s: &Setup, n: usize) -> Vec<String> {
    let children: Vec<Child> = (0..n).map(|_| s.spawn()).collect();
    let mut logs = Vec::new();
    for child in children {
        let (ok, stdout, stderr) = finish(child).await;
        assert!(ok, "a backfill failed:\n{stdout}\n{stderr}");
        logs.push(stderr);
    }
    logs
}

fn sqlite() -> String {
    "sqlite://{dir}/kb.db".to_owned()
}

/// A fresh schema on the test PostgreSQL, or `None` (with a SKIPPED line) when there is none
/// and neither CI nor `KBBRIDGE_REQUIRE_POSTGRES=1` requires it.
pub(crate) async fn postgres() -> Option<String> {
    let base = std::env::var("KBBRIDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let options = sqlx::postgres::PgConnectOptions::from_str(&base).unwrap();
    let connect = tokio::time::timeout(
        Duration::from_secs(10),
        PgConnection::connect_with(&options),
    );
    let mut conn = match connect.await {
        Ok(Ok(conn)) => conn,
        other => {
            let required = std::env::var_os("CI").is_some()
                || std::env::var("KBBRIDGE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PostgreSQL is required here and not reachable: {other:?}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable ({other:?})");
            return None;
        }
    };
    let schema = format!("kbe_{:016x}", rand_u64());
    conn.execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

fn rand_u64() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
}

async fn concurrent_runs(database: String) {
    for n in [2, 3] {
        let s = Setup::new(Limits::discord().scaled(0.25), &database, 5).await;
        let logs = together(&s, n).await;
        s.check_exactly_once().await;
        // Every link ends done, with the sample's counts, whoever copied it.
        let status = s.status();
        for chat in CHATS {
            let row = status
                .lines()
                .find(|l| l.starts_with(chat))
                .unwrap_or_else(|| panic!("no status row for {chat}:\n{status}"));
            assert!(row.contains(" done "), "{row}\n{status}");
        }
        assert!(
            logs.iter()
                .any(|l| l.contains("another kbbridge process is writing here")),
            "no process ever waited for another: were they really concurrent?"
        );
        // A later database has the next test's rows: a new schema per round.
        if database.starts_with("postgres") {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_three_processes_on_one_sqlite_store_send_each_message_once() {
    concurrent_runs(sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgres_store_send_each_message_once() {
    if let Some(url) = postgres().await {
        let s = Setup::new(Limits::discord().scaled(0.25), &url, 5).await;
        together(&s, 3).await;
        s.check_exactly_once().await;
        let status = s.status();
        assert_eq!(status.matches(" done ").count(), CHATS.len(), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_with_sigkill_is_taken_over_after_its_lease_expires() {
    let s = Setup::new(Limits::discord(), &sqlite(), 3).await;
    // One page per chat: the killed run saves no progress row, so what `status` and `plan`
    // show of it comes from the copy rows alone.
    let cfg = s.dir.path().join("kbbridge.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("page_size = 5", "page_size = 1000")).unwrap();
    // Slow answers: the first process is still at work when it is killed.
    s.standin.inject(
        Fault::Delay(Duration::from_millis(80)),
        FaultTarget::WebhookExecute,
        100_000,
    );
    let mut first = s.spawn();
    let started = Instant::now();
    while s.standin.all_messages().len() < 3 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended too soon"
    );
    first.kill().unwrap(); // SIGKILL: its leases stay until they expire
    let _ = first.wait();
    let killed_at = Instant::now();
    let status = s.status();
    assert!(
        status.contains("running"),
        "the dead holder's link shows as held:\n{status}"
    );

    let (ok, stdout, stderr) = finish(s.spawn()).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("another kbbridge process is writing here"),
        "the second run did not wait for the dead holder's lease:\n{stderr}"
    );
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "taken over before expiry"
    );
    s.check_exactly_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_channels_are_created_under_a_tight_bucket_completes() {
    // Two channel creations per 8 s: the sample needs 2 categories and 4 channels. The lease
    // (2 s) expires long before the window, so the restart meets the bucket used up.
    let limits = Limits {
        channel_create: BucketLimit {
            limit: 2,
            window: Duration::from_secs(8),
        },
        ..Limits::discord().scaled(0.25)
    };
    let s = Setup::new(limits, &sqlite(), 2).await;
    // A 5xx and a dropped connection on the very first requests: setup retries them too.
    s.standin
        .inject(Fault::ServerError(502), FaultTarget::Any, 1);
    let mut first = s.spawn();
    let started = Instant::now();
    while s.standin.channels().len() < 2 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    let _ = first.wait();
    let made = s.standin.channels().len();
    assert!(
        made < 6,
        "setup had finished before the restart ({made} channels)"
    );

    // The restarted run meets the bucket the killed one used up.
    let (ok, stdout, stderr) = finish(s.spawn()).await;
    assert!(ok, "the restart needed an operator:\n{stdout}\n{stderr}");
    s.check_exactly_once().await;
    let stats = s.standin.stats();
    assert!(stats.injected_5xx >= 1, "{stats:?}");
    assert!(
        stats.route_429 >= 1,
        "the restart never met the used-up creation bucket: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_whose_channel_is_gone_fails_alone_and_the_report_says_what_to_do() {
    let s = Setup::new(Limits::discord().scaled(0.25), &sqlite(), 5).await;
    // The first link names a channel that does not exist; the others are "auto".
    let cfg = s.dir.path().join("kbbridge.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text = text.replacen(
        "keybase = \"acme#general\"\ndiscord = \"auto\"",
        "keybase = \"acme#general\"\ndiscord = \"123456789012345678\"",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let (ok, stdout, stderr) = finish(s.spawn()).await;
    assert!(!ok, "a failed link must fail the run:\n{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("l0 "))
        .unwrap_or_else(|| panic!("no report row for l0:\n{stdout}"));
    assert!(row.contains("FAILED"), "{row}");
    assert!(
        stdout.contains("what to do: fix the target chat"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 4 job(s) did not finish"), "{stdout}");
    for link in ["l1 ", "l2 ", "l3 "] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(link))
            .unwrap_or_else(|| panic!("no report row for {link}:\n{stdout}"));
        assert!(row.ends_with("done"), "{row}");
    }
    // The three other chats arrived whole: their channels hold messages, l0's none was made.
    let texts = s
        .standin
        .channels()
        .into_iter()
        .filter(|c| c.kind == 0)
        .count();
    assert_eq!(texts, 3);
}
