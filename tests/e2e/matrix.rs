//! The `kbbridge` binary against a real Synapse (`tests/support/synapse`), checked by reading
//! Synapse back over plain HTTP: `/messages`, `/state`, `/hierarchy`, media downloads.
//!
//! The expected messages come from the Keybase export reader (itself checked message by
//! message against the sample in adapter-keybase's tests). Each test uses its own ghost prefix,
//! so its ghosts and room aliases are its own on the shared homeserver.

use std::{
    collections::HashMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use adapter_keybase::KeybaseExport;
use adapter_matrix::{
    SOURCE_KEY, emoji, localpart,
    testing::{ReadBack, Synapse, synapse, unique_prefix},
};
use bridge_core::{ChatId, Cursor, HistorySource, Message, MessageKind};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{root, text};

/// One kbbridge installation: a mapping file, a database and a ghost prefix of its own.
struct Bridge {
    dir: TempDir,
    config: PathBuf,
    prefix: String,
    synapse: &'static Synapse,
}

impl Bridge {
    /// The bundled sample's mapping file, pointed at the test Synapse through the environment.
    fn sample() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Bridge {
            config: root().join("config/examples/sample.toml"),
            dir,
            prefix: unique_prefix(),
            synapse: synapse(),
        }
    }

    /// A mapping file of its own for `export`, one "auto" link per chat, paced at `rate`/s.
    fn with_export(export: &Path, chats: &[&str], rate: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = format!(
            "[keybase]\nexport = {:?}\n\n[matrix]\nserver_name = \"localhost\"\n\n\
             [backfill]\nparallel_links = 4\npage_size = 20\n\n\
             [backfill.rate.matrix]\nmessages_per_second = {rate}\nburst = 5\n",
            export.display().to_string()
        );
        for (i, chat) in chats.iter().enumerate() {
            write!(
                toml,
                "\n[[link]]\nname = \"l{i}\"\nkeybase = {chat:?}\nmatrix = \"auto\"\n"
            )
            .unwrap();
        }
        let config = dir.path().join("kbbridge.toml");
        fs::write(&config, toml).unwrap();
        Bridge {
            config,
            dir,
            prefix: unique_prefix(),
            synapse: synapse(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
        let db = format!("sqlite://{}", self.dir.path().join("kbbridge.db").display());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("KBBRIDGE__DATABASE__URL", db)
            .env("KBBRIDGE__MATRIX__HOMESERVER", self.synapse.url.as_str())
            .env("KBBRIDGE__MATRIX__SERVER_NAME", &self.synapse.server_name)
            .env("KBBRIDGE__MATRIX__AS_TOKEN", &self.synapse.as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", "ci_hs_token")
            .env("KBBRIDGE__MATRIX__GHOST_PREFIX", &self.prefix)
            .env(
                "KBBRIDGE__MATRIX__BOT_LOCALPART",
                &self.synapse.bot_localpart,
            )
            .env("RUST_LOG", "info")
            .env_remove("KBBRIDGE_CONFIG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kbbridge")
    }

    fn alias(&self, local: &str) -> String {
        format!("#{}{local}:{}", self.prefix, self.synapse.server_name)
    }

    fn ghost(&self, name: &str) -> String {
        format!(
            "@{}:{}",
            localpart::ghost(&self.prefix, name),
            self.synapse.server_name
        )
    }

    fn bot(&self) -> String {
        format!(
            "@{}:{}",
            self.synapse.bot_localpart, self.synapse.server_name
        )
    }
}

/// Every message of every chat of `export`, oldest first, as the reader gives them.
async fn expected(export: &Path) -> HashMap<String, Vec<Message>> {
    let export = KeybaseExport::open(export).unwrap();
    let mut all = HashMap::new();
    for summary in export.chats() {
        let chat: ChatId = summary.chat.clone();
        let mut msgs = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = export.page(&chat, cursor.as_ref(), 500).await.unwrap();
            msgs.extend(page.messages);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        all.insert(summary.chat.to_string(), msgs);
    }
    all
}

/// Events a message becomes: its body, its further files, one per (emoji, user).
fn expected_parts(m: &Message) -> usize {
    let mut reactions = std::collections::HashSet::new();
    for r in &m.reactions {
        for u in &r.users {
            reactions.insert((emoji::reaction_key(&r.emoji, r.exact), u.id.clone()));
        }
    }
    1 + m.content.attachments.len().saturating_sub(1) + reactions.len()
}

fn source(e: &Value) -> (String, usize) {
    let s = &e["content"][SOURCE_KEY];
    (
        s["msg"].as_str().unwrap_or_default().to_owned(),
        s["part"].as_u64().unwrap_or(u64::MAX) as usize,
    )
}

/// Checks that `room` holds exactly `msgs`: each part once, in order, from the right sender,
/// at the original time, replies and reactions on the right events, files byte-identical.
/// Returns how many events it checked.
async fn verify_room(bridge: &Bridge, read: &ReadBack, room: &str, msgs: &[Message]) -> usize {
    let events = read.messages(room).await.unwrap();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["content"].get(SOURCE_KEY).is_some())
        .collect();
    let index: HashMap<&str, usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.origin.msg.as_str(), i))
        .collect();
    let mut by_part: HashMap<(String, usize), &Value> = HashMap::new();
    let mut last = None;
    for e in &ours {
        let (msg, part) = source(e);
        let i = *index
            .get(msg.as_str())
            .unwrap_or_else(|| panic!("{room}: unknown message {msg}"));
        assert!(
            Some((i, part)) > last,
            "{room}: ({msg}, {part}) out of order after {last:?}"
        );
        last = Some((i, part));
        assert!(
            by_part.insert((msg.clone(), part), e).is_none(),
            "{room}: ({msg}, {part}) twice"
        );
    }
    let mut total = 0;
    for m in msgs {
        let id = m.origin.msg.as_str().to_owned();
        let parts = expected_parts(m);
        total += parts;
        let get = |p: usize| {
            *by_part
                .get(&(id.clone(), p))
                .unwrap_or_else(|| panic!("{room}: ({id}, {p}) missing"))
        };
        let author = match m.kind {
            MessageKind::Notice => bridge.bot(),
            MessageKind::Normal => bridge.ghost(m.sender.id.as_str()),
        };
        for p in 0..parts {
            let e = get(p);
            assert_eq!(
                e["origin_server_ts"].as_i64(),
                Some(m.sent_at.timestamp_millis()),
                "{room}: {id}/{p}"
            );
        }
        let first = get(0);
        assert_eq!(first["sender"], author.as_str(), "{room}: {id}");
        let parent = m
            .reply_to
            .as_ref()
            .and_then(|p| by_part.get(&(p.as_str().to_owned(), 0)));
        match (m.reply_to.as_ref(), parent) {
            (Some(_), Some(parent)) => assert_eq!(
                first["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], parent["event_id"],
                "{room}: reply {id}"
            ),
            (Some(_), None) => assert!(
                first["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("> ")),
                "{room}: {id} replies to a message not copied: {first}"
            ),
            (None, _) => assert!(
                first["content"].get("m.relates_to").is_none(),
                "{room}: {id}"
            ),
        }
        for (n, att) in m.content.attachments.iter().enumerate() {
            let e = get(n);
            let bytes = att.data.read().await.unwrap();
            let url = e["content"]["url"]
                .as_str()
                .unwrap_or_else(|| panic!("{room}: {id}/{n} has no file"));
            assert_eq!(
                read.download(url).await.unwrap(),
                bytes,
                "{room}: {id}/{n} differs"
            );
            assert_eq!(e["content"]["filename"], att.name.as_str());
        }
        let mut part = 1 + m.content.attachments.len().saturating_sub(1);
        let mut seen = std::collections::HashSet::new();
        for r in &m.reactions {
            let key = emoji::reaction_key(&r.emoji, r.exact);
            for user in &r.users {
                if !seen.insert((key.clone(), user.id.clone())) {
                    continue;
                }
                let e = get(part);
                assert_eq!(e["type"], "m.reaction", "{room}: {id}/{part}");
                assert_eq!(
                    e["sender"],
                    bridge.ghost(user.id.as_str()).as_str(),
                    "{room}: {id}/{part}"
                );
                let rel = &e["content"]["m.relates_to"];
                assert_eq!(rel["event_id"], first["event_id"], "{room}: {id}/{part}");
                assert_eq!(rel["key"], key.as_str(), "{room}: {id}/{part}");
                part += 1;
            }
        }
    }
    assert_eq!(ours.len(), total, "{room}: unexpected extra events");
    total
}

fn sample_export() -> PathBuf {
    root().join("tests/fixtures/sample-export/export.jsonl")
}

/// The sample's chats and the aliases kbbridge gives their rooms.
const SAMPLE_ROOMS: [(&str, &str); 4] = [
    ("acme#general", "acme-general"),
    ("acme#random", "acme-random"),
    ("acme.ops#alerts", "acme.ops-alerts"),
    ("alice,bob", "-alice=2cbob"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_export_arrives_once_in_order_with_its_shape_and_reruns_send_nothing() {
    let bridge = Bridge::sample();
    let read = bridge.synapse.read_back();
    let out = bridge.run(&["backfill"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let expected = expected(&sample_export()).await;
    let mut rooms = HashMap::new();
    let mut checked = 0;
    for (chat, alias) in SAMPLE_ROOMS {
        let room = read.alias(&bridge.alias(alias)).await.unwrap();
        checked += verify_room(&bridge, &read, &room, &expected[chat]).await;
        rooms.insert(chat, room);
    }
    assert!(checked >= 60, "only {checked} events");

    // Spaces shaped like the teams: acme ⊃ {general, random, acme.ops ⊃ alerts}; the DM apart.
    let acme = read.alias(&bridge.alias("acme")).await.unwrap();
    let ops = read.alias(&bridge.alias("acme.ops")).await.unwrap();
    let tree = read.hierarchy(&acme).await.unwrap();
    let children = |space: &str| -> Vec<String> {
        let node = tree
            .iter()
            .find(|r| r["room_id"] == space)
            .unwrap_or_else(|| panic!("{space}"));
        let mut c: Vec<String> = node["children_state"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state_key"].as_str().unwrap().to_owned())
            .collect();
        c.sort();
        c
    };
    let mut want = vec![
        rooms["acme#general"].clone(),
        rooms["acme#random"].clone(),
        ops.clone(),
    ];
    want.sort();
    assert_eq!(children(&acme), want);
    assert_eq!(children(&ops), vec![rooms["acme.ops#alerts"].clone()]);
    assert_eq!(
        tree.iter().find(|r| r["room_id"] == acme.as_str()).unwrap()["room_type"],
        "m.space"
    );
    let dm_state = read.state(&rooms["alice,bob"]).await.unwrap();
    let join_rule = dm_state
        .iter()
        .find(|e| e["type"] == "m.room.join_rules")
        .unwrap();
    assert_eq!(join_rule["content"]["join_rule"], "invite");
    for user in ["alice", "bob"] {
        let member = dm_state.iter().find(|e| {
            e["type"] == "m.room.member" && e["state_key"] == bridge.ghost(user).as_str()
        });
        assert_eq!(
            member.map(|m| &m["content"]["membership"]),
            Some(&Value::from("join")),
            "{user}"
        );
    }
    let general_state = read.state(&rooms["acme#general"]).await.unwrap();
    let name = general_state
        .iter()
        .find(|e| e["type"] == "m.room.name")
        .unwrap();
    assert_eq!(name["content"]["name"], "general");

    // A second run sends nothing: not a message, not a membership change.
    let mut before = HashMap::new();
    for room in rooms.values() {
        before.insert(room.clone(), read.messages(room).await.unwrap().len());
    }
    let again = bridge.run(&["backfill"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    for (room, count) in before {
        assert_eq!(
            read.messages(&room).await.unwrap().len(),
            count,
            "{room} changed on re-run"
        );
    }
}

/// Writes a keybase-export file: `per_chat` messages in each chat, with replies, reactions and
/// a few files, newest first per channel as keybase-export writes them.
fn synthetic_export(dir: &Path, chats: &[&str], per_chat: u64) -> PathBuf {
    let mut lines = Vec::new();
    let users = ["alice", "bob", "carol_x", "dave"];
    for chat in chats {
        let files = dir.join("attachments").join(chat);
        fs::create_dir_all(&files).unwrap();
        for id in (1..=per_chat).rev() {
            let sender = users[(id % 4) as usize];
            let ms = 1_600_000_000_000 + id as i64 * 60_000;
            let mut line = serde_json::json!({
                "text": format!("message {id} in {chat} by {sender}, *bold* and _it_"),
                "id": id,
                "sent_at": ms / 1000,
                "sent_at_ms": ms,
                "sender_username": sender,
                "sender_uid": format!("{:030}19", id),
                "device_id": "0123456789abcdef0123456789abcd18",
                "device_name": "laptop",
                "channel_name": chat,
            });
            if id % 7 == 0 {
                line["reply_to"] = (id - 3).into();
            }
            if id % 5 == 0 {
                line["reactions"] = serde_json::json!({
                    "tada": {"decorated": ":tada:", "users": {
                        "bob": {"ctime": ms + 1000, "reactionMsgId": 100_000 + id},
                        "dave": {"ctime": ms + 2000, "reactionMsgId": 200_000 + id}}}
                });
            }
            if id % 40 == 1 {
                let name = format!("file-{id}.txt");
                fs::write(
                    files.join(format!("{id}-{name}")),
                    format!("contents of {id} in {chat}"),
                )
                .unwrap();
                line["attachment"] = serde_json::json!({"filename": name, "asset_type": 1});
            }
            lines.push(line.to_string());
        }
    }
    let path = dir.join("export.jsonl");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A small random-enough sequence for kill delays (the seed is printed for reruns).
struct Jitter(u64);

impl Jitter {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_points_leaves_no_duplicate_and_no_gap() {
    let data = tempfile::tempdir().unwrap();
    let chats = ["crash#one", "crash#two", "crash.sub#three"];
    let export = synthetic_export(data.path(), &chats, 150);
    // 60 parts/s: the whole backfill takes ~12 s, so the kills land all through it.
    let bridge = Bridge::with_export(&export, &chats, 60);
    let seed = std::env::var("KBBRIDGE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            (t.map(|d| d.as_nanos() as u64).unwrap_or(7) ^ u64::from(std::process::id())) | 1
        });
    println!("kill seed: {seed} (KBBRIDGE_KILL_SEED to repeat)");
    let mut jitter = Jitter(seed);

    let mut kills = 0;
    let mut runs = 0;
    let mut finished = false;
    while kills < 6 {
        runs += 1;
        let log = fs::File::create(bridge.dir.path().join(format!("run-{runs}.log"))).unwrap();
        let mut child = bridge
            .command(&["backfill"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(jitter.next_ms(300, 1800));
        let start = Instant::now();
        let exited = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        match exited {
            Some(status) => {
                assert!(
                    status.success(),
                    "run {runs} failed: see {}",
                    bridge.dir.path().display()
                );
                finished = true;
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                println!("run {runs}: SIGKILL after {delay:?}");
            }
        }
    }
    assert!(kills >= 5 || finished, "only {kills} kills");
    assert!(
        kills >= 5,
        "the backfill finished after {kills} kills: make it longer"
    );
    let last = bridge.run(&["backfill"]);
    assert!(last.status.success(), "{}", text(&last.stderr));
    let logs: String = (1..=runs)
        .filter_map(|r| fs::read_to_string(bridge.dir.path().join(format!("run-{r}.log"))).ok())
        .collect::<Vec<_>>()
        .join("\n")
        + &text(&last.stderr);
    let reconciled = logs.matches("a crashed send had arrived").count();
    let resent = logs.matches("possible duplicate").count();
    println!("{kills} kills; {reconciled} interrupted sends found already delivered");
    assert_eq!(resent, 0, "the sink could not tell whether a send arrived");

    let expected = expected(&export).await;
    let read = bridge.synapse.read_back();
    let mut checked = 0;
    for chat in chats {
        let alias = localpart::room_alias(
            "",
            &bridge_core::ChatInfo {
                chat: bridge_core::ChatRef::new(bridge_core::Platform::Keybase, chat),
                name: chat.split_once('#').unwrap().1.to_owned(),
                topic: None,
                path: chat
                    .split_once('#')
                    .unwrap()
                    .0
                    .split('.')
                    .map(str::to_owned)
                    .collect(),
                kind: bridge_core::ChatKind::Channel,
            },
        );
        let room = read.alias(&bridge.alias(&alias)).await.unwrap();
        checked += verify_room(&bridge, &read, &room, &expected[chat]).await;
    }
    let want: usize = expected.values().flatten().map(expected_parts).sum();
    assert_eq!(checked, want);
    println!("{checked} events checked: 0 duplicates, 0 missing");
}

#[test]
fn matrix_registration_prints_an_exclusive_unlimited_appservice() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kbbridge"))
        .args([
            "--config",
            root().join("config/examples/sample.toml").to_str().unwrap(),
        ])
        .arg("matrix-registration")
        .env(
            "KBBRIDGE__DATABASE__URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env_remove("KBBRIDGE__MATRIX__AS_TOKEN")
        .env_remove("KBBRIDGE__MATRIX__HS_TOKEN")
        .output()
        .unwrap();
    let yaml = text(&out.stdout);
    assert!(out.status.success(), "{yaml}{}", text(&out.stderr));
    for line in [
        "as_token: \"sample-as-token-for-a-local-synapse\"",
        "hs_token: \"sample-hs-token-for-a-local-synapse\"",
        "sender_localpart: \"kbbridge\"",
        "rate_limited: false",
        "      regex: '@kb_.*:localhost'",
        "      regex: '#kb_.*:localhost'",
    ] {
        assert!(yaml.lines().any(|l| l == line), "no {line:?} in\n{yaml}");
    }
    assert_eq!(yaml.matches("exclusive: true").count(), 2, "{yaml}");
}

/// The README's main command, on a port of its own: sets up Synapse with the registration
/// kbbridge prints, replays the sample, shows the rooms; the second run sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_sets_up_synapse_and_shows_the_rooms() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let sample = fs::read_to_string(root().join("config/examples/sample.toml")).unwrap();
    let export = sample_export();
    let config = sample
        .replace("http://127.0.0.1:8008", &format!("http://127.0.0.1:{port}"))
        .replace(
            "../../tests/fixtures/sample-export/export.jsonl",
            export.to_str().unwrap(),
        );
    let path = dir.path().join("demo.toml");
    fs::write(&path, config).unwrap();
    // Make sure the shared venv exists (installed once, under the script's lock).
    synapse();
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_kbbridge"))
            .args(["--config", path.to_str().unwrap(), "-q", "demo"])
            .env(
                "KBBRIDGE__DATABASE__URL",
                format!("sqlite://{}/demo.db", dir.path().display()),
            )
            // This test's Synapse stops when the test process ends.
            .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
            .env_remove("KBBRIDGE__MATRIX__AS_TOKEN")
            .env_remove("KBBRIDGE__MATRIX__HS_TOKEN")
            .output()
            .unwrap()
    };
    let first = demo();
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    for line in [
        "space \"acme\" #kb_acme:localhost",
        "space \"acme.ops\" #kb_acme.ops:localhost",
        "room  \"general\" #kb_acme-general:localhost",
        "room  \"alerts\" #kb_acme.ops-alerts:localhost",
        "room  \"alice, bob\" #kb_-alice=2cbob:localhost",
        "user \"demo\", password \"demo\"",
    ] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}");
    }
    assert!(stdout.contains("30 message(s) copied"), "{stdout}");
    let demo_synapse = Synapse {
        url: url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        as_token: "sample-as-token-for-a-local-synapse".to_owned(),
        ..synapse().clone()
    };
    let read = demo_synapse.read_back();
    let general = read.alias("#kb_acme-general:localhost").await.unwrap();
    let before = read.messages(&general).await.unwrap().len();
    let second = demo();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(
        read.messages(&general).await.unwrap().len(),
        before,
        "the second demo sent again"
    );
    assert_eq!(
        text(&second.stdout)
            .lines()
            .filter(|l| l.contains("message(s) copied"))
            .count(),
        4
    );
    let synapse_dir = root().join(format!("target/synapse/demo-{port}"));
    let stop = Command::new("bash")
        .arg(adapter_matrix::testing::script())
        .arg("stop")
        .env("SYNAPSE_DIR", &synapse_dir)
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let _ = fs::remove_dir_all(synapse_dir);
}
