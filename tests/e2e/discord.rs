//! The real `kbbridge` binary backfilling the bundled sample export into the Discord stand-in
//! (HTTPS as `discord.com`, serenity unchanged): checked message by message, a second run that
//! sends nothing, SIGKILL at random points with restarts, and a fault storm.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use adapter_discord::{
    config::{ReactionStyle, TimeFormat},
    convert::{self, Style},
    names::webhook_username,
};
use adapter_keybase::KeybaseExport;
use bridge_core::{ChatId, HistorySource, Message, Mode};
use discord_standin::{
    Chaos, Fault, FaultTarget, Limits, RecordedMessage, StandIn, StandInOptions, TEXT,
};

use crate::support::{kbbridge_on, root, text};

const CHATS: [&str; 4] = [
    "acme#general",
    "acme#random",
    "acme.ops#alerts",
    "alice,bob",
];
/// Smaller than two of the sample's images (83 and 84 bytes), larger than the other two files.
const MAX_FILE: u64 = 80;

fn export_dir() -> PathBuf {
    root().join("tests/fixtures/sample-export")
}

struct Setup {
    standin: StandIn,
    dir: tempfile::TempDir,
    channels: BTreeMap<&'static str, u64>,
}

async fn setup(limits: Limits) -> Setup {
    let standin = StandIn::start(StandInOptions {
        limits,
        max_file_size: MAX_FILE,
        ..StandInOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let channels: BTreeMap<&'static str, u64> = CHATS
        .iter()
        .map(|c| {
            (
                *c,
                standin.create_channel(&c.replace(['#', ','], "-"), TEXT, None),
            )
        })
        .collect();
    let links: String = CHATS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "[[link]]\nname = \"l{i}\"\nkeybase = \"{c}\"\ndiscord = \"{}\"\n\n",
                channels[c]
            )
        })
        .collect();
    let config = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\n[keybase]\nexport = \"{export}\"\n\n\
         [discord]\nguild_id = \"{guild}\"\n\n\
         [backfill]\nparallel_links = 4\npage_size = 10\nretry_attempts = 12\n\
         retry_min_delay_ms = 50\nretry_max_delay_ms = 1000\n\n\
         [backfill.rate.discord]\nmessages_per_second = 200\nburst = 50\n\n{links}",
        db = dir.path().join("kb.db").display(),
        export = export_dir().join("export.jsonl").display(),
        guild = standin.guild_id(),
    );
    std::fs::write(dir.path().join("kbbridge.toml"), config).unwrap();
    std::fs::write(dir.path().join("ca.pem"), standin.ca_pem()).unwrap();
    Setup {
        standin,
        dir,
        channels,
    }
}

impl Setup {
    /// `kbbridge ARGS` on this setup's mapping file, pointed at the stand-in.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = kbbridge_on(&self.standin, &self.dir.path().join("ca.pem"));
        cmd.arg("--config")
            .arg(self.dir.path().join("kbbridge.toml"))
            .args(args)
            .env("KBBRIDGE__DISCORD__TOKEN", self.standin.token());
        cmd
    }

    fn spawn(&self) -> Child {
        self.command(&["-q", "--log-format", "json", "backfill"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kbbridge")
    }

    /// Runs a backfill to its end; panics with its log if it fails.
    async fn run(&self) {
        let child = self.spawn();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "kbbridge failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `kbbridge ARGS` run to its end: (success, stdout, stderr).
    fn output(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.command(args).output().expect("run kbbridge");
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }

    /// `kbbridge status` on this setup's database.
    fn status(&self) -> String {
        let (ok, stdout, stderr) = self.output(&["-q", "status"]);
        assert!(ok, "{stderr}");
        stdout
    }

    fn messages(&self, chat: &str) -> Vec<RecordedMessage> {
        self.standin
            .messages(self.channels[chat])
            .into_iter()
            .filter(|m| !m.deleted)
            .collect()
    }
}

/// The sample's messages per chat, oldest first, as the export reader gives them.
async fn expected() -> BTreeMap<&'static str, Vec<Message>> {
    let export = KeybaseExport::open(export_dir().join("export.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for c in CHATS {
        let page = export.page(&ChatId::new(c), None, 1000).await.unwrap();
        assert!(page.next.is_none());
        out.insert(c, page.messages);
    }
    out
}

fn style() -> Style {
    Style {
        time: TimeFormat::Prefix,
        reactions: ReactionStyle::Line,
    }
}

/// Checks every chat's copies message by message: count of parts, order, author, time markup,
/// reply links, files, silence.
async fn check_complete(s: &Setup) {
    let guild = s.standin.guild_id();
    for (chat, msgs) in expected().await {
        let got = s.messages(chat);
        let channel = s.channels[chat];
        let mut i = 0;
        let mut first_part: BTreeMap<String, u64> = BTreeMap::new();
        for m in &msgs {
            let plan = convert::plan(m, style(), Mode::Backfill);
            let parts = &got[i..i + plan.len()];
            i += plan.len();
            first_part.insert(m.origin.msg.to_string(), parts[0].id);
            let time = format!("<t:{}:f>", m.sent_at.timestamp());
            assert!(
                parts[0].content.contains(&time),
                "{chat} {}: {:?}",
                m.origin,
                parts[0].content
            );
            for (p, r) in plan.iter().zip(parts) {
                assert_eq!(
                    r.author_name,
                    webhook_username(&m.sender.name),
                    "{chat} {}",
                    m.origin
                );
                assert_eq!(r.flags, 4096);
                assert!(r.pinged.is_empty(), "{:?}", r.pinged);
                assert_eq!(
                    r.allowed_mentions.as_ref().unwrap()["parse"],
                    serde_json::json!([])
                );
                assert!(r.content.chars().count() <= 2000);
                if let Some(f) = p.file {
                    let a = &m.content.attachments[f];
                    let bytes = a.data.read().await;
                    match bytes {
                        Ok(b) if b.len() as u64 <= MAX_FILE => {
                            assert_eq!(r.files[0].bytes, b, "{chat} {}", m.origin);
                            assert_eq!(r.files[0].name, a.name);
                        }
                        _ => assert!(
                            r.content.contains(&format!("📎 *{}", a.name)),
                            "{}",
                            r.content
                        ),
                    }
                } else {
                    assert!(r.files.is_empty());
                }
            }
            if let Some(parent) = &m.reply_to {
                if let Some(pid) = first_part.get(parent.as_str()) {
                    let link = format!("https://discord.com/channels/{guild}/{channel}/{pid})");
                    assert!(
                        parts[0].content.contains(&link),
                        "{chat} {}: {}",
                        m.origin,
                        parts[0].content
                    );
                }
            }
        }
        assert_eq!(i, got.len(), "{chat}: no extra message (duplicates)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_export_replays_exactly_and_a_second_run_sends_nothing() {
    let s = setup(Limits::discord().scaled(0.25)).await;
    s.run().await;
    check_complete(&s).await;
    let general = s.messages("acme#general");
    assert!(
        general
            .iter()
            .any(|m| m.content.contains("@everyone @here @channel"))
    );
    let long: Vec<_> = general
        .iter()
        .filter(|m| m.content.chars().count() > 1500)
        .collect();
    assert!(!long.is_empty(), "the 2,057-character message is split");
    let executes = s.standin.all_messages().len();
    s.run().await;
    assert_eq!(
        s.standin.all_messages().len(),
        executes,
        "a second run sends nothing"
    );
    let stats = s.standin.stats();
    assert_eq!((stats.late_429, stats.global_429), (0, 0), "{stats:?}");

    let status = s.status();
    for chat in [
        "acme#general",
        "acme#random",
        "acme.ops#alerts",
        "alice,bob",
    ] {
        let row = status
            .lines()
            .find(|l| l.starts_with(chat))
            .unwrap_or_else(|| panic!("no status row for {chat}:\n{status}"));
        assert!(row.contains(" done "), "{row}\n{status}");
    }
    assert!(!status.contains("interrupted"), "{status}");
}

/// A small pseudo-random generator seeded from the clock (xorshift).
fn rng() -> impl FnMut(u64) -> u64 {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing() {
    // Discord's own limits (5 executes per 2 s per webhook) and slow answers make each run long
    // enough to be killed in the middle, often while a request is in flight.
    let s = setup(Limits::discord()).await;
    s.standin.inject(
        Fault::Delay(Duration::from_millis(60)),
        FaultTarget::WebhookExecute,
        100_000,
    );
    let mut random = rng();
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = s.spawn();
        let wait = Duration::from_millis(300 + random(1200));
        let started = Instant::now();
        while started.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
    }
    assert!(
        kills >= 5,
        "only {kills} runs were killed before they ended"
    );
    s.run().await;
    check_complete(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_storm_still_ends_complete() {
    let s = setup(Limits::discord().scaled(0.25)).await;
    s.standin.set_chaos(Some(Chaos {
        seed: 7,
        server_error: 0.1,
        drop: 0.05,
        drop_after_commit: 0.05,
        rate_limit: 0.05,
        retry_after: Duration::from_millis(200),
    }));
    s.run().await;
    s.standin.set_chaos(None);
    check_complete(&s).await;
    let stats = s.standin.stats();
    assert!(
        stats.injected_5xx + stats.dropped + stats.dropped_after_commit + stats.injected_429 > 5,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reaches_each_named_channel_and_reports_a_missing_one() {
    let s = setup(Limits::discord()).await;
    let (ok, stdout, stderr) = s.output(&["-q", "check"]);
    assert!(ok, "{stdout}\n{stderr}");
    for chat in CHATS {
        let id = s.channels[chat];
        assert!(
            stdout.contains(&format!("discord:{id} is reachable")),
            "{chat} ({id}) not checked:\n{stdout}"
        );
    }

    // A channel that does not exist in the guild is a problem, named with its link.
    let cfg = s.dir.path().join("kbbridge.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let gone = s.channels["acme#random"];
    std::fs::write(&cfg, text.replace(&gone.to_string(), "123456789012345678")).unwrap();
    let (ok, stdout, _) = s.output(&["-q", "check"]);
    assert!(!ok, "a missing channel must fail the check:\n{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("123456789012345678"))
        .unwrap_or_else(|| panic!("the missing channel is not reported:\n{stdout}"));
    assert!(line.trim_start().starts_with("l1:"), "{line}");
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
}

/// Sends `signal` (`INT`, `TERM`) to `child` with kill(1), once the stand-in has received at
/// least one message, and returns the exit code and stderr of the clean stop that follows.
async fn stop_with(s: &Setup, signal: &str) -> (Option<i32>, String) {
    let child = s.spawn();
    let before = s.standin.all_messages().len();
    let started = Instant::now();
    while s.standin.all_messages().len() == before {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was sent in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kill = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -{signal} failed");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (out.status.code(), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_stop_cleanly_with_their_exit_codes() {
    // Discord's own limits (5 executes per 2 s per webhook) make the run last ~20 s.
    let s = setup(Limits::discord()).await;
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let (got, stderr) = stop_with(&s, signal).await;
        assert_eq!(got, Some(code), "after SIG{signal}:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("run the backfill again to resume"),
            "a clean stop says how to go on:\n{stderr}"
        );
    }
    // The stops were clean: the next run completes the copy, with no duplicate.
    s.run().await;
    check_complete(&s).await;
}
