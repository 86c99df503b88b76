//! The live relay's cost: `cargo bench --bench relay` (release build; prints its figures, it
//! asserts none). Goals (the live-relay issue): p99 latency kbbridge adds to Keybase → Matrix
//! ≤ 50 ms at 100 messages/s over 10 channels; idle RSS of a relay serving 50 links ≤ 40 MB;
//! Keybase → Discord: no 429 from a bucket after its first answer.
//!
//! Everything is real but Keybase (and Discord, in the Discord part): `kbbridge run` (the
//! release binary) on a SQLite store, the Keybase stand-in (`keybase-standin`,
//! tests/standins/keybase/STANDIN.md) as its client, and the pushing Synapse of the tests (`adapter_matrix::testing::pushing`, one per checkout: run
//! nothing else on it meanwhile), set up as tests/e2e/live/ does (`world.rs`; the Keybase side
//! in `keybase_side.rs`, the `kbbridge run` process in `relay_process.rs`).
//!
//! **Latency** (`latency.rs`, `posting.rs`, `goal.rs`). 10 stand-in channels relayed (mode
//! `relay`, `matrix = "auto"`) to 10 rooms kbbridge makes. Each rate (100/s, the goal's, then
//! 40/s and 20/s) runs every phase below on the same world. Messages are posted with `keybase-standin
//! admin post` at that rate in all, message `i` on channel `i % 10`, from bob, dave and erin in
//! turn, each stamped when its post starts. A message lands on Matrix when Synapse finishes
//! its send, by Synapse's own access log, to the millisecond (`arrivals.rs`: a syncing client
//! would cost Synapse as much CPU as the sends; `origin_server_ts` is the Keybase time kbbridge
//! sets, no arrival); after the timing, every message is read back from its room. kbbridge's `[keybase] binary` is this benchmark,
//! which runs the stand-in and stamps each api-listen line as it hands it to kbbridge
//! (`tee.rs`), so each relayed message splits into the stand-in's delivery (post → line; the
//! stand-in looks at its files every 5 ms, where a real Keybase is pushed its messages) and
//! kbbridge's part plus Synapse's (line → Matrix). (This replaces a second, bare api-listen
//! reader: its polls would not be in phase with kbbridge's.)
//!
//! The baselines, in the same run: the benchmark sends as many messages straight to Synapse
//! (`PUT /send`) at the same rate, into the same rooms, as the same senders (their ghosts,
//! written with the `as_token` as kbbridge writes), so Synapse does for them all it does for
//! the relayed copies: the same members to notify (the benchmark's user, who reads them), the
//! same push of each event to the appservice (kbbridge, which ignores its own ghosts' events).
//! Sent by the user into rooms of its own instead, as this benchmark first did, a message cost
//! Synapse about 12 ms less CPU (no one to notify, nothing to push): a baseline of lighter work.
//! Their content carries an empty `m.mentions`, as kbbridge's copies do (and as a client
//! with intentional mentions, MSC3952, sends every message): without it Synapse skips a
//! JSON-schema check that costs it 1.4 ms of CPU per event on this machine
//! (`jsonschema.validate` checks the schema itself each time; 3.1 → 6.3 ms of the send's own
//! CPU in an interleaved trial), which made the baseline's events cheaper than the relay's.
//! Sent (a) each when it is due, whether the ones before were answered or not: Synapse's own
//! send latency at this rate; (b) one in flight per room, as the relay sends (a chat's
//! messages must land in order): what any order-keeping client gets from this Synapse at this
//! rate. Both are timed from when each message was due, so a wait behind the message before
//! counts, as it does in kbbridge.
//! The phases alternate (relayed, direct, in order; then backwards…) so Synapse's drift as its
//! database grows favours none. Before timing, each sender posts once on each channel, so
//! ghosts are registered and joined. Synapse's own time over each send (its access log,
//! `synapse_log.rs`) tells the time spent inside Synapse from the rest: each relayed message's
//! line → Matrix splits into waiting behind its chat's earlier messages, kbbridge's work before
//! its send, and Synapse over the send (`breakdown.rs`).
//!
//! The verdict (`goal.rs`) is given at the rates Synapse itself keeps up with: where a direct
//! phase delivers under 95 % of the rate, every sender's latency is a queue that grows with the
//! phase, and a difference of quantiles compares two queues, not a cost per message. On the
//! 2-core machine this was written on, Synapse 1.163 spent 25–43 ms of CPU on each message
//! (more per message at lower rates, where less is batched; 30–35 ms in trial runs on
//! PostgreSQL, `SYNAPSE_DATABASE=postgres`, which was no faster), so it took about 35 messages/s
//! in order and 38–70 as due, whoever sent them.
//!
//! The added latency is a difference of quantiles (two different messages cannot be paired):
//! p(line → Matrix) − p(direct) is kbbridge's (the goal's figure); the table also gives it
//! stand-in included, and splits it into the cost of keeping order (in order − direct) and the
//! rest (line → Matrix − in order). A table of the phases gives the rate each delivered (first
//! post → last arrival) and the CPU use of kbbridge, Synapse and the whole machine meanwhile:
//! the machine is shared, and a phase run while other work takes the CPUs is slower for that
//! alone.
//!
//! **Idle memory** (`memory.rs`). `kbbridge run` relaying 50 channels to 50 rooms it makes;
//! once it says it relays, one message on each of 5 channels is relayed and read back, then
//! after 5 s of quiet /proc/<pid>/status is sampled every 200 ms for 10 s: VmRSS (and its
//! anonymous and file-backed parts) and VmHWM, the peak since start, set-up included. The
//! stand-in's processes (the client kbbridge talks to) are not counted.
//!
//! **Discord** (`discord.rs`, `discord_world.rs`, `discord_direct.rs`, `discord_report.rs`).
//! `kbbridge run` relaying 10 stand-in channels (mode `relay`, no Matrix) to 10 channels of the
//! Discord stand-in (`discord-standin`, in this process, reached over HTTPS as `discord.com`
//! through `[discord] connect_to` and `ca_file`, as tests/e2e/live/ does), messages posted on
//! Keybase as the latency part posts them, through the same tee. Arrival on Discord is each
//! copy's snowflake: the stand-in makes the ID as it accepts the message, with the time in ms
//! since Discord's epoch in its top bits, so it is stamped where it lands, to 1 ms (taken as
//! the middle of that ms), with no poller or gateway client in between. Two worlds, one
//! stand-in each: (1) **Discord's limits** (`Limits::discord()`: webhook execute 5 per 2 s per
//! webhook, so 25 msg/s over 10 channels): a phase at 100/s, where the latency is a queue that
//! grows with the phase (said so in the output, with the delivered rate), then one at 20/s,
//! which the limits allow; (2) **limits lifted** (every window × 0.001): at 100/s and at 40/s,
//! each relayed, then sent straight to the stand-in's webhooks by this benchmark into
//! channels of its own (`discord_direct.rs`, the same HTTPS and bot token, each when due and
//! one in flight per channel), the stand-in's own time at that rate. kbbridge's own limiter
//! keeps every bot under Discord's global 50 requests/s whatever the stand-in allows, so at
//! 100/s the relay is a queue there too, and the added latency (line → on Discord − direct,
//! differences of quantiles) is meaningful at 40/s. Per phase: the delivered rate, the
//! stand-in's route, global and late 429s (`late_429`: from a bucket that had answered once;
//! the goal is none), the 429s kbbridge retried, and its pacing from its own /metrics (the
//! admin listener on): its time inside Discord sends (limiter waits and retries included) over
//! the channels' time, and that less the unpaced cost of a send (measured where the limits
//! were lifted and the rate kept up), the share its rate limiter made it wait. The goal line
//! counts late 429s over both worlds, warm-ups included.
//!
//! Settings (environment): `KBBRIDGE_BENCH_MESSAGES` (2000 of each kind, per rate),
//! `KBBRIDGE_BENCH_RATE` (100 per second), `KBBRIDGE_BENCH_RATES` (the latency part's rates,
//! comma-separated; default that rate, 40 and 20), `KBBRIDGE_BENCH_CHANNELS` (10),
//! `KBBRIDGE_BENCH_ROUNDS` (2), `KBBRIDGE_BENCH_LINKS` (50, idle part),
//! `KBBRIDGE_BENCH_DISCORD_MESSAGES` (1000 per Discord phase),
//! `KBBRIDGE_BENCH_DISCORD_LIMITED_RATE` (20 per second), `KBBRIDGE_BENCH_DISCORD_LIFTED_RATE`
//! (40 per second), `KBBRIDGE_BENCH_ONLY` (`latency`, `memory` or `discord`), `KBBRIDGE_BENCH_LOG` (kbbridge's `RUST_LOG`,
//! default `info`), `KBBRIDGE_BENCH_KEEP=1` (keep each world's folder: logs, store, stamps).
//!
//! Run outside `cargo bench` (without `--bench`, as `cargo test --benches` would), it does
//! nothing.

mod arrivals;
mod breakdown;
mod discord;
mod discord_direct;
mod discord_report;
mod discord_world;
mod goal;
mod keybase_side;
mod latency;
mod memory;
mod posting;
mod procfs;
mod relay_process;
mod stamp;
mod stats;
mod synapse_log;
mod tee;
mod world;

use std::process::ExitCode;

use stats::{Summary, difference, header, row};

/// The goal for the idle RSS, in MB.
const RSS_GOAL_MB: f64 = 40.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The latency part's rates: `KBBRIDGE_BENCH_RATES` (comma-separated), else the goal's rate
/// (`KBBRIDGE_BENCH_RATE`, 100), 40/s (about this machine's Synapse's limit) and 20/s (a rate
/// it keeps up with).
fn rates() -> Vec<f64> {
    let listed: Vec<f64> = std::env::var("KBBRIDGE_BENCH_RATES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .collect();
    if listed.is_empty() {
        vec![env_or("KBBRIDGE_BENCH_RATE", 100.0), 40.0, 20.0]
    } else {
        listed
    }
}

fn main() -> ExitCode {
    if let Some(code) = tee::as_keybase() {
        return code;
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("relay benchmark: run it with `cargo bench --bench relay`");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench());
    ExitCode::SUCCESS
}

async fn bench() {
    // The stand-in of this build's profile, (re)built first when missing or stale.
    let standin = keybase_standin::executable();
    let only = std::env::var("KBBRIDGE_BENCH_ONLY").unwrap_or_default();
    let keep = std::env::var("KBBRIDGE_BENCH_KEEP").is_ok_and(|v| v == "1");
    if only.is_empty() || only == "latency" {
        let settings = latency::Settings {
            messages: env_or("KBBRIDGE_BENCH_MESSAGES", 2000),
            rates: rates(),
            channels: env_or("KBBRIDGE_BENCH_CHANNELS", 10),
            rounds: env_or("KBBRIDGE_BENCH_ROUNDS", 2),
        };
        let measured = latency::run(&standin, &settings, keep).await;
        for m in &measured {
            print_latency(&settings, m);
            print_phases(m.rate, &m.phases);
        }
        goal::print(&measured);
    }
    if only.is_empty() || only == "memory" {
        let idle = memory::run(&standin, env_or("KBBRIDGE_BENCH_LINKS", 50), keep).await;
        print_memory(&idle);
    }
    if only.is_empty() || only == "discord" {
        let settings = discord::Settings {
            messages: env_or("KBBRIDGE_BENCH_DISCORD_MESSAGES", 1000),
            rate: env_or("KBBRIDGE_BENCH_RATE", 100.0),
            limited_rate: env_or("KBBRIDGE_BENCH_DISCORD_LIMITED_RATE", 20.0),
            lifted_rate: env_or("KBBRIDGE_BENCH_DISCORD_LIFTED_RATE", 40.0),
            channels: env_or("KBBRIDGE_BENCH_CHANNELS", 10),
        };
        let runs = discord::run(&standin, &settings, keep).await;
        discord_report::print(&settings, &runs);
    }
}

fn print_latency(s: &latency::Settings, m: &latency::Latency) {
    let relay = Summary::of(&m.relay);
    let standin = Summary::of(&m.standin);
    let own = Summary::of(&m.own);
    let concurrent = Summary::of(&m.concurrent.seen);
    let in_order = Summary::of(&m.in_order.seen);
    header(&format!(
        "relay latency: {} messages of each kind at {}/s over {} channels, {} rounds",
        s.messages, m.rate, s.channels, s.rounds
    ));
    row("relayed: Keybase post → landed on Matrix", &relay);
    row("  stand-in: post → kbbridge's api-listen line", &standin);
    row("  kbbridge + Synapse: line → landed on Matrix", &own);
    let b = &m.breakdown;
    row(
        "    waiting behind its chat's earlier ones",
        &Summary::of(&b.waiting),
    );
    row(
        "    kbbridge before its send (no waits)",
        &Summary::of(&b.kbbridge),
    );
    row(
        "    Synapse over the send (its log)",
        &Summary::of(&b.synapse),
    );
    for (label, direct, summary) in [
        (
            "direct, each when due: due → landed",
            &m.concurrent,
            &concurrent,
        ),
        (
            "direct, in order per room: due → landed",
            &m.in_order,
            &in_order,
        ),
    ] {
        row(label, summary);
        row("  due → Synapse's answer", &Summary::of(&direct.acked));
        row(
            "  Synapse's time over the sends (log)",
            &Summary::of(&direct.synapse),
        );
    }
    println!(
        "{:<46} {:>6} {:>9} {:>9}",
        "added (differences of quantiles)", "", "p50 ms", "p99 ms"
    );
    difference("  relayed − direct", &relay, &[&concurrent]);
    difference(
        "  relayed − direct − stand-in",
        &relay,
        &[&concurrent, &standin],
    );
    difference("  kbbridge: line→Matrix − direct", &own, &[&concurrent]);
    difference(
        "    keeping order: in order − direct",
        &in_order,
        &[&concurrent],
    );
    difference("    the rest: line→Matrix − in order", &own, &[&in_order]);
    println!(
        "lost: {} relayed, {} + {} direct; latest send behind schedule: \
         {:.1} ms on Keybase, {:.1} ms direct, {:.1} ms in order;\nkbbridge CPU {:.2} ms per \
         relayed message; load average {} → {}",
        m.lost_relay,
        m.concurrent.lost,
        m.in_order.lost,
        m.relay_lag.as_secs_f64() * 1000.0,
        m.concurrent.worst_lag.as_secs_f64() * 1000.0,
        m.in_order.worst_lag.as_secs_f64() * 1000.0,
        m.cpu_ms,
        m.load.0,
        m.load.1
    );
}

fn print_phases(rate: f64, phases: &[latency::PhaseReport]) {
    println!(
        "\n{:<34} {:>6} {:>7} {:>9} {:>10} {:>9} {:>9}",
        "phase", "s", "msg/s", "machine %", "kbbridge %", "Synapse %", "Syn ms/m"
    );
    for p in phases {
        println!(
            "{:<34} {:>6.1} {:>7.1} {:>9.0} {:>10.0} {:>9.0} {:>9.1}",
            p.name, p.secs, p.delivered, p.busy, p.kbbridge, p.synapse, p.synapse_ms
        );
    }
    println!(
        "(s: first post → last arrival; msg/s: delivered; machine: all CPUs busy, other \
         processes included; kbbridge, Synapse: % of one CPU; Syn ms/m: Synapse's CPU time per \
         message)"
    );
    let behind = phases
        .iter()
        .filter(|p| p.relayed && p.delivered < 0.95 * rate)
        .count();
    if behind > 0 {
        println!(
            "the relay delivered less than the {rate}/s offered in {behind} phase(s): there its \
             latency is a queue that grows with the phase's length, not a cost per message"
        );
    }
}

fn print_memory(idle: &memory::Idle) {
    let mb = |kb: u64| kb as f64 / 1024.0;
    let rss: Vec<u64> = idle.samples.iter().map(|s| s.rss).collect();
    let rss = Summary::of(&rss);
    let last = idle.samples.last().copied().unwrap_or_default();
    println!(
        "\nidle memory: kbbridge run serving {} relay links (set up in {:.1} s), {} samples",
        idle.links,
        idle.set_up.as_secs_f64(),
        rss.n
    );
    println!(
        "VmRSS median {:.1} MB, max {:.1} MB (anonymous {:.1} MB, file {:.1} MB; {} threads); \
         VmHWM {:.1} MB",
        mb(rss.p50),
        mb(rss.max),
        mb(last.anon),
        mb(last.file),
        last.threads,
        mb(last.hwm)
    );
    let max = mb(rss.max);
    println!(
        "idle RSS {max:.1} MB = {:.2} × the {RSS_GOAL_MB} MB goal ({})",
        max / RSS_GOAL_MB,
        if max <= RSS_GOAL_MB { "met" } else { "missed" }
    );
}
