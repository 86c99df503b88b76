//! Read throughput and peak memory of the export reader.
//!
//! `cargo bench -p adapter-keybase --bench read` generates keybase-export files of 1,000,000
//! and 2,000,000 lines (`KBBRIDGE_BENCH_LINES` sets the first size; the second is twice it;
//! `KBBRIDGE_BENCH_LAYOUT=keybase-binding` writes dentropy/keybase-binding's folder of raw
//! wrappers instead, with reaction and edit messages to fold),
//! then, for each, runs a child process that opens the file (one indexing pass) and pages
//! through every message of every chat oldest first, as a backfill does. Each child reports
//! its time and its peak resident memory (`VmHWM`), so the sizes do not share a peak; the
//! figures are printed side by side with the 2×/1× ratios.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
    process::Command,
    time::Instant,
};

use adapter_keybase::{KeybaseExport, export::MAX_PAGE};
use bridge_core::Cursor;

/// Channels in the generated file; lines are spread over them.
const CHANNELS: [&str; 8] = [
    "acme#general",
    "acme#random",
    "acme#dev",
    "acme.ops#alerts",
    "acme.ops#oncall",
    "alice,bob",
    "alice,bob,carol",
    "bob,dave",
];

fn main() {
    if let Ok(path) = std::env::var("KBBRIDGE_BENCH_CHILD") {
        child(Path::new(&path));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let base: u64 = std::env::var("KBBRIDGE_BENCH_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let binding = std::env::var("KBBRIDGE_BENCH_LAYOUT").is_ok_and(|l| l == "keybase-binding");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut results = Vec::new();
    for lines in [base, base * 2] {
        let started = Instant::now();
        let (path, bytes) = if binding {
            let path = dir.path().join(format!("out-{lines}"));
            let bytes = generate_binding(&path, lines);
            (path, bytes)
        } else {
            let path = dir.path().join(format!("export-{lines}.jsonl"));
            let bytes = generate(&path, lines);
            (path, bytes)
        };
        println!(
            "generated {lines} lines ({:.0} MB) in {:.1} s",
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let out = Command::new(std::env::current_exe().expect("own path"))
            .env("KBBRIDGE_BENCH_CHILD", &path)
            .output()
            .expect("run the reading child");
        let report = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{report}");
        let fields: Vec<f64> = report
            .split_whitespace()
            .filter_map(|w| w.split_once('=').and_then(|(_, v)| v.parse().ok()))
            .collect();
        results.push((lines, fields));
        if binding {
            std::fs::remove_dir_all(&path).ok();
        } else {
            std::fs::remove_file(&path).ok();
        }
    }
    let (small, large) = (&results[0].1, &results[1].1);
    // fields: lines, messages, open_s, page_s, total_s, lines_per_s, peak_rss_mb
    println!(
        "ratios {}/{}: time x{:.2}, peak RSS x{:.2}",
        results[1].0,
        results[0].0,
        large[4] / small[4],
        large[6] / small[6]
    );
}

/// Writes `lines` keybase-export lines, channel by channel, newest first as keybase-export
/// does; about one line in ten has reactions, one in seven replies. Returns the bytes written.
fn generate(path: &Path, lines: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create the file"));
    let per = lines / CHANNELS.len() as u64;
    let mut written = 0u64;
    let mut total = 0u64;
    for (c, chat) in CHANNELS.iter().enumerate() {
        let count = if c == CHANNELS.len() - 1 {
            lines - written
        } else {
            per
        };
        for n in (1..=count).rev() {
            let sender = ["alice", "bob", "carol", "dave", "emile_b"][(n % 5) as usize];
            let ms = 1_600_000_000_000 + n * 61_000;
            let reactions = if n % 10 == 0 {
                r#","reactions":{":+1:":{"decorated":":+1:","users":{"bob":{"ctime":1600000070000,"reactionMsgId":44}}}}"#
            } else {
                ""
            };
            let reply = if n % 7 == 0 && n > 1 {
                format!(r#","reply_to":{}"#, n - 1)
            } else {
                String::new()
            };
            let line = format!(
                r#"{{"text":"message {n} in {chat}: the quick brown fox jumps over the lazy dog","id":{n}{reactions}{reply},"sent_at":{},"sent_at_ms":{ms},"sender_username":"{sender}","sender_uid":"4c2a1e0f3b5d7a9c8e6f4a2b1c3d5e19","device_id":"9f8e7d6c5b4a39281706f5e4d3c2b118","device_name":"laptop","channel_name":"{chat}"}}"#,
                ms / 1000
            );
            out.write_all(line.as_bytes()).expect("write");
            out.write_all(b"\n").expect("write");
            total += line.len() as u64 + 1;
        }
        written += count;
    }
    out.flush().expect("flush");
    total
}

/// Writes `lines` raw wrappers as dentropy/keybase-binding lays them out
/// (`Teams/<team>/<topic>/NNN.json`, `DMs/<name>/NNN.json`, arrays of 10,000 wrappers, newest
/// first); one wrapper in ten is a reaction message, one in twenty-five an edit. Returns the
/// bytes written.
fn generate_binding(out: &Path, lines: u64) -> u64 {
    let per = lines / CHANNELS.len() as u64;
    let (mut written, mut total) = (0u64, 0u64);
    for (c, chat) in CHANNELS.iter().enumerate() {
        let count = if c == CHANNELS.len() - 1 {
            lines - written
        } else {
            per
        };
        let (folder, channel) = match chat.split_once('#') {
            Some((team, topic)) => (
                out.join("Teams").join(team).join(topic),
                format!(
                    r#"{{"name":"{team}","members_type":"team","topic_type":"chat","topic_name":"{topic}"}}"#
                ),
            ),
            None => (
                out.join("DMs").join(chat),
                format!(
                    r#"{{"name":"{chat}","members_type":"impteamnative","topic_type":"chat"}}"#
                ),
            ),
        };
        std::fs::create_dir_all(&folder).expect("create the folders");
        let ids: Vec<u64> = (1..=count).rev().collect();
        for (page, chunk) in ids.chunks(10_000).enumerate() {
            let path = folder.join(format!("{:03}.json", page + 1));
            let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create"));
            out.write_all(b"[").expect("write");
            for (i, &n) in chunk.iter().enumerate() {
                let sender = ["alice", "bob", "carol", "dave", "emile_b"][(n % 5) as usize];
                let ms = 1_600_000_000_000 + n * 61_000;
                let content = if n % 10 == 0 && n > 1 {
                    format!(
                        r#"{{"type":"reaction","reaction":{{"m":{},"b":":+1:","e":null}}}}"#,
                        n - 1
                    )
                } else if n % 25 == 0 && n > 2 {
                    format!(
                        r#"{{"type":"edit","edit":{{"messageID":{},"body":"message {} edited","userMentions":null,"teamMentions":null,"emojis":null}}}}"#,
                        n - 2,
                        n - 2
                    )
                } else {
                    format!(
                        r#"{{"type":"text","text":{{"body":"message {n} in {chat}: the quick brown fox jumps over the lazy dog","payments":null,"userMentions":null,"teamMentions":null,"emojis":null}}}}"#
                    )
                };
                let wrapper = format!(
                    r#"{}{{"msg":{{"id":{n},"conversation_id":"0000f0b5c2c2211c8d67ed15e75e656c7862d086e9245420892a7de62cd9ec5{c}","channel":{channel},"sender":{{"uid":"4c2a1e0f3b5d7a9c8e6f4a2b1c3d5e19","username":"{sender}","device_id":"9f8e7d6c5b4a39281706f5e4d3c2b118","device_name":"laptop"}},"sent_at":{},"sent_at_ms":{ms},"content":{content},"prev":[],"unread":false,"channel_mention":"none"}}}}"#,
                    if i == 0 { "" } else { ", " },
                    ms / 1000
                );
                out.write_all(wrapper.as_bytes()).expect("write");
                total += wrapper.len() as u64;
            }
            out.write_all(b"]").expect("write");
            out.flush().expect("flush");
            total += 2;
        }
        written += count;
    }
    total
}

/// Opens `path`, pages through everything, prints one line of figures.
fn child(path: &Path) {
    let started = Instant::now();
    let export = KeybaseExport::open(path).expect("open the export");
    let opened = started.elapsed().as_secs_f64();
    let mut messages = 0u64;
    for chat in export.chats() {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = export
                .read_page(&chat.chat, cursor.as_ref(), MAX_PAGE)
                .expect("read a page");
            messages += page.messages.len() as u64;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    let lines = export.stats().lines;
    println!(
        "lines={lines} messages={messages} open_s={opened:.2} page_s={:.2} total_s={total:.2} lines_per_s={:.0} peak_rss_mb={:.1}",
        total - opened,
        lines as f64 / total,
        peak_rss_kb() as f64 / 1024.0
    );
}

/// `VmHWM` of this process, in kB (0 where `/proc` is not available).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
