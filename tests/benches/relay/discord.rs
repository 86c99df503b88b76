//! The Discord part: Keybase posts relayed by kbbridge to the Discord stand-in, first with
//! Discord's limits (where 100/s offered is a queue, so a phase at a rate they allow follows),
//! then with the limits lifted, against webhook executes sent straight to the stand-in at the
//! same rates (`discord_direct.rs`). Arrival on Discord is each message's snowflake time
//! (`discord_world.rs`); the stand-in counts its 429s, kbbridge's /metrics its time in sends.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    time::{Duration, Instant},
};

use discord_standin::{Limits, Stats};

use super::{
    discord_direct::DirectClient,
    discord_world::{DiscordWorld, Sends},
    keybase_side::SENDERS,
    posting::{self, Order, Posted, Schedule},
    procfs,
    stamp::tag,
};

/// What the Discord part is run with.
pub struct Settings {
    /// Messages per phase.
    pub messages: usize,
    /// The rate offered in the first phase of each world (messages/s over all channels).
    pub rate: f64,
    /// The rate of the phase with Discord's limits that they allow.
    pub limited_rate: f64,
    /// The rate of the phases with the limits lifted that kbbridge's own global limit allows.
    pub lifted_rate: f64,
    /// Channels, on each side.
    pub channels: usize,
}

/// What a phase sends, and how.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// Posted on Keybase, relayed by kbbridge.
    Relayed,
    /// Sent straight to the stand-in's webhooks.
    Direct(Order),
}

/// The stand-in's counts over a phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    /// Requests to `/api/v10`.
    pub requests: u64,
    /// 429s from a route bucket.
    pub route_429: u64,
    /// 429s from a bucket that had already answered once.
    pub late_429: u64,
    /// 429s from the global limit.
    pub global_429: u64,
}

impl Counted {
    fn between(before: &Stats, after: &Stats) -> Self {
        Self {
            requests: after.requests - before.requests,
            route_429: after.route_429 - before.route_429,
            late_429: after.late_429 - before.late_429,
            global_429: after.global_429 - before.global_429,
        }
    }
}

/// How one phase went.
pub struct Phase {
    /// What it sent.
    pub kind: Kind,
    /// The rate offered (messages/s).
    pub rate: f64,
    /// Messages sent.
    pub sent: usize,
    /// Relayed: Keybase post → on Discord; direct: due → on Discord (µs).
    pub total: Vec<u64>,
    /// Relayed: post → kbbridge's api-listen line (the Keybase stand-in's delivery).
    pub standin: Vec<u64>,
    /// Relayed: that line → on Discord (kbbridge, then the Discord stand-in).
    pub own: Vec<u64>,
    /// Direct: due → the stand-in's answer.
    pub acked: Vec<u64>,
    /// Never on Discord (or, relayed, never stamped on api-listen).
    pub lost: usize,
    /// First post → last arrival (s).
    pub secs: f64,
    /// Messages over `secs`.
    pub delivered: f64,
    /// The latest post or send against its schedule.
    pub worst_lag: Duration,
    /// The stand-in's counts.
    pub counted: Counted,
    /// kbbridge's Discord sends, by its /metrics.
    pub sends: Sends,
    /// kbbridge's CPU use (% of one CPU) over the phase.
    pub kbbridge_cpu: f64,
    /// The machine's CPUs busy (%), other processes included.
    pub busy: f64,
}

/// One stand-in world: its limits and phases.
pub struct WorldRun {
    /// Its name.
    pub name: &'static str,
    /// Its name in the phase table.
    pub short: &'static str,
    /// The stand-in's limits.
    pub limits: Limits,
    /// Its phases, in the order run.
    pub phases: Vec<Phase>,
    /// The stand-in's counts over the whole world, warm-up included.
    pub all: Counted,
}

/// Runs both worlds; keeps their folders when `keep`.
pub async fn run(standin: &Path, s: &Settings, keep: bool) -> Vec<WorldRun> {
    let limited = [(Kind::Relayed, s.rate), (Kind::Relayed, s.limited_rate)];
    let mut lifted = Vec::new();
    for rate in [s.rate, s.lifted_rate] {
        lifted.extend([
            (Kind::Relayed, rate),
            (Kind::Direct(Order::Concurrent), rate),
            (Kind::Direct(Order::InOrder), rate),
        ]);
    }
    vec![
        world(
            ("Discord's limits", "Discord's limits"),
            Limits::discord(),
            &limited,
            standin,
            s,
            keep,
        )
        .await,
        world(
            ("limits lifted (every window × 0.001)", "limits lifted"),
            Limits::discord().scaled(0.001),
            &lifted,
            standin,
            s,
            keep,
        )
        .await,
    ]
}

async fn world(
    (name, short): (&'static str, &'static str),
    limits: Limits,
    phases: &[(Kind, f64)],
    standin: &Path,
    s: &Settings,
    keep: bool,
) -> WorldRun {
    let mut world = DiscordWorld::new(s.channels, standin, limits.clone()).await;
    world.start().await;
    let direct = if phases.iter().any(|(k, _)| *k != Kind::Relayed) {
        Some(DirectClient::new(&world, s.channels).await)
    } else {
        None
    };
    warm_up(&mut world, direct.as_ref(), s.channels).await;
    let mut out = WorldRun {
        name,
        short,
        limits,
        phases: Vec::new(),
        all: Counted::default(),
    };
    for (i, &(kind, rate)) in phases.iter().enumerate() {
        let schedule = Schedule {
            first: i * s.messages,
            count: s.messages,
            rate,
            channels: s.channels,
        };
        out.phases
            .push(phase(&mut world, direct.as_ref(), kind, schedule).await);
        // Every bucket's window over before the next phase.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    out.all = Counted::between(&Stats::default(), &world.stats());
    world.stop();
    if keep {
        println!("discord world kept in {}", world.keep().display());
    }
    out
}

/// Runs one phase and measures it.
async fn phase(
    world: &mut DiscordWorld,
    direct: Option<&DirectClient>,
    kind: Kind,
    s: Schedule,
) -> Phase {
    let pid = world.relay().pid();
    let (stats, sends) = (world.stats(), world.sends().await);
    let (cpu, machine, wall) = (
        procfs::cpu_ticks(pid),
        procfs::machine_ticks(),
        Instant::now(),
    );
    let posted = match (kind, direct) {
        (Kind::Direct(order), Some(direct)) => {
            let tag = if order == Order::InOrder { 'o' } else { 'd' };
            direct.send(tag, order, s).await
        }
        (Kind::Relayed, _) => {
            let keybase = world.keybase();
            tokio::task::block_in_place(|| posting::on_keybase(keybase, s))
        }
        (Kind::Direct(_), None) => panic!("a direct phase in a world without its client"),
    };
    // The queue drains at no less than a few messages a second; more is a failure.
    let deadline = Duration::from_secs_f64(60.0 + s.count as f64 / 5.0);
    let tags: Vec<&str> = posted.iter().map(|p| p.tag.as_str()).collect();
    let arrivals = arrive(world, &tags, deadline).await;
    let wall = wall.elapsed().as_secs_f64();
    let kbbridge_ticks = procfs::cpu_ticks(pid).saturating_sub(cpu);
    let (busy, all) = procfs::machine_ticks();
    let (busy, all) = (busy - machine.0, all - machine.1);
    let lines = super::tee::stamped_lines(&world.relay().lines_path());
    let mut out = Phase {
        kind,
        rate: s.rate,
        sent: posted.len(),
        total: Vec::new(),
        standin: Vec::new(),
        own: Vec::new(),
        acked: Vec::new(),
        lost: 0,
        secs: 0.0,
        delivered: 0.0,
        worst_lag: posted.iter().map(|p| p.lag).max().unwrap_or_default(),
        counted: Counted::between(&stats, &world.stats()),
        sends: world.sends().await.since(&sends),
        kbbridge_cpu: 100.0 * kbbridge_ticks as f64 * procfs::MS_PER_TICK / 1000.0 / wall,
        busy: 100.0 * busy as f64 / all.max(1) as f64,
    };
    measure(&mut out, &posted, &arrivals, &lines);
    out
}

/// Fills in the durations, losses and delivered rate of `out`.
fn measure(
    out: &mut Phase,
    posted: &[Posted],
    arrivals: &HashMap<String, u64>,
    lines: &HashMap<String, u64>,
) {
    for p in posted {
        let seen = arrivals.get(&p.tag).copied();
        match (out.kind, seen, lines.get(&p.tag)) {
            (Kind::Relayed, Some(seen), Some(&line)) => {
                out.total.push(seen.saturating_sub(p.at));
                out.standin.push(line.saturating_sub(p.at));
                out.own.push(seen.saturating_sub(line));
            }
            (Kind::Direct(_), Some(seen), _) => {
                out.total.push(seen.saturating_sub(p.at));
                out.acked.extend(p.acked.map(|a| a.saturating_sub(p.at)));
            }
            _ => out.lost += 1,
        }
    }
    let first = posted.iter().map(|p| p.at).min().unwrap_or(0);
    let last = posted
        .iter()
        .filter_map(|p| arrivals.get(&p.tag).copied())
        .max()
        .unwrap_or(first);
    out.secs = last.saturating_sub(first) as f64 / 1e6;
    out.delivered = (posted.len() - out.lost) as f64 / out.secs.max(1e-3);
}

/// One message from each sender on each channel, and one execute on each of the benchmark's
/// own webhooks, on Discord before timing starts: kbbridge has made its webhooks and learnt
/// their buckets, and every connection is open.
async fn warm_up(world: &mut DiscordWorld, direct: Option<&DirectClient>, channels: usize) {
    let mut tags = Vec::new();
    for c in 0..channels {
        for (i, sender) in SENDERS.iter().enumerate() {
            let tag = tag('w', c * SENDERS.len() + i);
            let status = world
                .keybase()
                .post_command(c, sender, &format!("warm-up {tag}"))
                .status();
            assert!(status.is_ok_and(|s| s.success()), "cannot post on Keybase");
            tags.push(tag);
        }
    }
    if let Some(direct) = direct {
        let s = Schedule {
            first: 100_000,
            count: channels,
            rate: 100.0,
            channels,
        };
        let sent = direct.send('w', Order::Concurrent, s).await;
        tags.extend(sent.into_iter().map(|p| p.tag));
    }
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let seen = arrive(world, &tags, Duration::from_secs(120)).await;
    assert_eq!(
        seen.len(),
        tags.len(),
        "the warm-up did not reach Discord:\n{}",
        world.relay().log()
    );
}

/// Waits until each of `tags` is on Discord, or `deadline` passed; their arrivals.
async fn arrive(
    world: &mut DiscordWorld,
    tags: &[&str],
    deadline: Duration,
) -> HashMap<String, u64> {
    let wanted: HashSet<&str> = tags.iter().copied().collect();
    let started = Instant::now();
    loop {
        world.relay().assert_running();
        let mut seen = world.arrivals();
        seen.retain(|t, _| wanted.contains(t.as_str()));
        if seen.len() >= tags.len() || started.elapsed() > deadline {
            return seen;
        }
        // Each look copies the stand-in's record under its lock: not too often.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
