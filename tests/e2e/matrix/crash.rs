//! A backfill killed with SIGKILL at random points, then finished: every event arrives exactly
//! once, none missing, checked against a synthetic export long enough to kill often.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use adapter_matrix::localpart;

use super::{
    Bridge,
    verify::{expected, expected_parts, verify_room},
};
use crate::support::text;

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
