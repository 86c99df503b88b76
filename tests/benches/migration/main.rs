//! The whole migration, timed from process start to exit: `cargo bench --bench migration`.
//!
//! A generated keybase-export ([`export`]: `KBBRIDGE_BENCH_MESSAGES` messages, default 10,000,
//! over 8 channels of a team and its subteam; ~5 % with a small file, ~10 % replies, ~10 % with
//! reactions, ~3 % edited) is copied into the test Synapse twice in one run ([`matrix`]):
//!
//! (a) by the real `kbbridge backfill` binary (8 "auto" links, `parallel_links = 8`, no pace),
//!     timed from spawn to exit: config, export scan, database, spaces and rooms, ghosts, joins,
//!     uploads, messages and reactions;
//! (b) by a minimal client making the same requests (spaces and rooms, then one task per room,
//!     all 8 at once: ghosts registered and joined on first use, each file uploaded, each
//!     message and reaction `PUT` in order), timed from its start to its last event.
//!
//! It prints both durations, the events/s of each and the ratio (a)/(b) of the rates.
//! Then the same export goes into the Discord stand-in ([`discord`]) by the binary, timed the
//! same way, against the rate the stand-in's per-webhook limits allow (windows scaled by
//! `KBBRIDGE_BENCH_SCALE`, default 0.5, so that 8 webhooks stay under kbbridge's default global
//! limit of 50 requests/s). `KBBRIDGE_BENCH_ONLY` = `matrix` or `discord` runs one side. Edited
//! messages are one event on both sides: an export holds only the final text.
//! `KBBRIDGE_BENCH_LOG` (default `info`) is kbbridge's `RUST_LOG`; its log is kept for study
//! when `KBBRIDGE_BENCH_KEEP` is set.

mod discord;
mod export;
mod matrix;

use std::time::Duration;

use adapter_matrix::testing::synapse;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The machine's 1-minute load average (the bench shares its cores).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn fail(what: &str, e: String) -> ! {
    eprintln!("migration: {what} failed: {e}");
    std::process::exit(1);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and must not start a
    // ten-minute migration.
    if !std::env::args().any(|a| a == "--bench") {
        println!("migration: a benchmark; run it with `cargo bench --bench migration`");
        return;
    }
    let total = env_usize("KBBRIDGE_BENCH_MESSAGES", 10_000);
    let log_level = std::env::var("KBBRIDGE_BENCH_LOG").unwrap_or_else(|_| "info".to_owned());
    let channels = export::generate(total);
    let messages: usize = channels.iter().map(|c| c.messages.len()).sum();
    let events: usize = channels.iter().map(export::Channel::events).sum();
    let files = channels
        .iter()
        .flat_map(|c| &c.messages)
        .filter(|m| m.file.is_some())
        .count();
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail("tempdir", e.to_string()));
    let path =
        export::write(dir.path(), &channels).unwrap_or_else(|e| fail("export", e.to_string()));
    println!(
        "migration: {messages} messages ({files} files) = {events} events over {} channels",
        channels.len(),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("runtime", e.to_string()));
    let only = std::env::var("KBBRIDGE_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "matrix" {
        let s = synapse();
        let rounds = env_usize("KBBRIDGE_BENCH_ROUNDS", 1).max(1);
        println!(
            "matrix: into Synapse at {}, {rounds} round(s), the order alternating",
            s.url
        );
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for round in 1..=rounds {
            // Round 1: kbbridge first; round 2: the minimal client first; and so on, so the
            // homeserver's growing database and the machine's load favour neither.
            for side in if round % 2 == 1 { [0, 1] } else { [1, 0] } {
                let before = load();
                if side == 0 {
                    let log = dir.path().join(format!("kbbridge-{round}.log"));
                    let took = matrix::kbbridge(s, dir.path(), round, &path, &log, &log_level)
                        .unwrap_or_else(|e| fail("kbbridge", e));
                    a += took;
                    println!(
                        "round {round} (a) kbbridge backfill  {:>7.2} s  {:>7.1} events/s  \
                         (load {before} → {})",
                        took.as_secs_f64(),
                        rate(events, took),
                        load()
                    );
                } else {
                    let (took, requests) = runtime
                        .block_on(matrix::bare(s, &channels))
                        .unwrap_or_else(|e| fail("bare client", e));
                    b += took;
                    println!(
                        "round {round} (b) minimal client     {:>7.2} s  {:>7.1} events/s  \
                         ({requests} requests; load {before} → {})",
                        took.as_secs_f64(),
                        rate(events, took),
                        load()
                    );
                }
            }
        }
        let n = events * rounds;
        println!(
            "matrix: kbbridge {:.1} events/s, minimal client {:.1} events/s, ratio (a)/(b) = \
             {:.3} (target >= 0.9)",
            rate(n, a),
            rate(n, b),
            rate(n, a) / rate(n, b)
        );
    }
    if only.is_empty() || only == "discord" {
        let scale = std::env::var("KBBRIDGE_BENCH_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.5);
        let log = dir.path().join("kbbridge-discord.log");
        let before = load();
        let d = runtime
            .block_on(discord::kbbridge(
                dir.path(),
                &path,
                &log,
                &log_level,
                scale,
            ))
            .unwrap_or_else(|e| fail("kbbridge into Discord", e));
        if d.recorded != messages {
            fail(
                "kbbridge into Discord",
                format!("{} messages recorded of {messages}", d.recorded),
            );
        }
        let achieved = rate(d.recorded, d.took);
        println!(
            "discord (scale {scale}): {} messages in {:.2} s = {achieved:.2} msg/s; allowed {:.2} \
             msg/s; {} 429s (load {before} → {})",
            d.recorded,
            d.took.as_secs_f64(),
            d.allowed,
            d.rejected,
            load()
        );
        println!(
            "discord ratio achieved/allowed = {:.3} (target >= 0.95)",
            achieved / d.allowed
        );
    }
    if std::env::var_os("KBBRIDGE_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        println!("kept: {}", kept.display());
    }
}
