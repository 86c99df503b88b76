//! The latency part: Keybase posts relayed by kbbridge to Matrix, against messages sent
//! straight to Synapse at the same rate, all at once or one in flight per room, all seen by the
//! same observer.

use std::{path::Path, time::Duration};

use serde_json::json;

use super::{
    breakdown::Breakdown,
    keybase_side::SENDERS,
    observer::Observer,
    posting::{self, Order, Posted, Schedule},
    procfs,
    stamp::tag,
    synapse_log::{self, Send},
    tee,
    world::World,
};

/// What the latency part is run with.
pub struct Settings {
    /// Messages of each kind, over all rounds.
    pub messages: usize,
    /// Messages per second, over all channels.
    pub rate: f64,
    /// Channels (Keybase) and rooms (Matrix).
    pub channels: usize,
    /// Rounds; each runs every phase, in turn forwards and backwards.
    pub rounds: usize,
}

/// The kinds of phase.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Posted on Keybase, relayed by kbbridge.
    Relayed,
    /// Sent by the user into rooms of its own (no bridge in them), as `Order` says.
    Direct(Order),
}

/// Messages sent straight to Synapse: durations (µs) and what went missing.
#[derive(Default)]
pub struct Direct {
    /// Due → seen on Matrix.
    pub seen: Vec<u64>,
    /// Due → Synapse's answer.
    pub acked: Vec<u64>,
    /// Synapse's time over each send, by its log.
    pub synapse: Vec<u64>,
    /// Never seen.
    pub lost: usize,
    /// The latest send against its schedule.
    pub worst_lag: Duration,
}

/// The measured durations (µs) and what went missing.
#[derive(Default)]
pub struct Latency {
    /// Keybase post → seen on Matrix.
    pub relay: Vec<u64>,
    /// Keybase post → the line of kbbridge's api-listen (the stand-in's own delivery).
    pub standin: Vec<u64>,
    /// That line → seen on Matrix (kbbridge, then Synapse).
    pub own: Vec<u64>,
    /// Where line → seen on Matrix went.
    pub breakdown: Breakdown,
    /// Relayed messages never seen on Matrix, or never stamped on api-listen.
    pub lost_relay: usize,
    /// The latest Keybase post against its schedule.
    pub relay_lag: Duration,
    /// Sent straight to Synapse, each when due.
    pub concurrent: Direct,
    /// Sent straight to Synapse, one in flight per room.
    pub in_order: Direct,
    /// Timelines the observer got cut short.
    pub gaps: usize,
    /// kbbridge's CPU time per relayed message (ms), over the relayed phases.
    pub cpu_ms: f64,
    /// The system's load average (1 min) before and after.
    pub load: (String, String),
    /// Each phase, in the order run.
    pub phases: Vec<PhaseReport>,
}

/// How one phase went, and what else the machine was doing meanwhile.
pub struct PhaseReport {
    /// Which phase, and its round.
    pub name: String,
    /// Whether kbbridge relayed its messages.
    pub relayed: bool,
    /// Messages delivered per second: the phase's messages over first post → last arrival.
    pub delivered: f64,
    /// First post → last arrival (s).
    pub secs: f64,
    /// The machine's CPUs busy (%), other processes included.
    pub busy: f64,
    /// kbbridge's CPU use (% of one CPU).
    pub kbbridge: f64,
    /// Synapse's CPU use (% of one CPU).
    pub synapse: f64,
    /// Synapse's CPU time per message of the phase (ms), its observer's syncs included.
    pub synapse_ms: f64,
}

/// How long the last message of a phase may take to show.
const ARRIVAL: Duration = Duration::from_secs(120);

/// Runs the latency part on a world of `s.channels` links; keeps the world's folder when `keep`.
pub async fn run(standin: &Path, s: &Settings, keep: bool) -> Latency {
    let mut world = World::new(s.channels, standin, true).await;
    world.start();
    world.relaying().await;
    world.rooms(true).await;
    let mut own = Vec::new();
    for _ in 0..s.channels {
        own.push(
            world
                .human
                .create_room()
                .await
                .expect("a room of the user's own"),
        );
    }
    let observer = Observer::start(world.human.clone()).await;
    warm_up(&mut world, &observer, &own).await;

    let mut out = Latency {
        load: (procfs::load(), String::new()),
        ..Latency::default()
    };
    let rounds = s.rounds.max(1);
    let per_round = (s.messages / rounds).max(1);
    let mut relayed = Vec::new();
    let (mut concurrent, mut in_order) = (Vec::new(), Vec::new());
    let mut cpu_ticks = 0;
    let mut relay_sends = Vec::new();
    let synapse_pid = synapse_log::pid();
    for round in 0..rounds {
        let mut phases = [
            Phase::Relayed,
            Phase::Direct(Order::Concurrent),
            Phase::Direct(Order::InOrder),
        ];
        if round % 2 == 1 {
            phases.reverse();
        }
        let schedule = Schedule {
            first: round * per_round,
            count: per_round,
            rate: s.rate,
            channels: s.channels,
        };
        for phase in phases {
            let (log, cpu) = (synapse_log::mark(), procfs::cpu_ticks(world.pid()));
            let (synapse_cpu, machine) = (procfs::cpu_ticks(synapse_pid), procfs::machine_ticks());
            let posted = match phase {
                Phase::Relayed => {
                    tokio::task::block_in_place(|| posting::on_keybase(world.keybase(), schedule))
                }
                Phase::Direct(order) => {
                    let kind = if order == Order::InOrder { 'o' } else { 'd' };
                    posting::on_matrix(&world.human, &own, kind, order, schedule).await
                }
            };
            let tags: Vec<String> = posted.iter().map(|p| p.tag.clone()).collect();
            arrive(&mut world, &observer, &tags).await;
            out.phases.push(report(
                phase,
                round,
                &posted,
                &observer,
                (
                    procfs::cpu_ticks(world.pid()).saturating_sub(cpu),
                    procfs::cpu_ticks(synapse_pid).saturating_sub(synapse_cpu),
                    machine,
                ),
            ));
            let synapse = synapse_log::sends_since(log);
            let (lag, all) = match phase {
                Phase::Relayed => {
                    cpu_ticks += procfs::cpu_ticks(world.pid()).saturating_sub(cpu);
                    relay_sends.extend(synapse);
                    (&mut out.relay_lag, &mut relayed)
                }
                Phase::Direct(Order::Concurrent) => {
                    out.concurrent
                        .synapse
                        .extend(synapse.iter().map(Send::took));
                    (&mut out.concurrent.worst_lag, &mut concurrent)
                }
                Phase::Direct(Order::InOrder) => {
                    out.in_order.synapse.extend(synapse.iter().map(Send::took));
                    (&mut out.in_order.worst_lag, &mut in_order)
                }
            };
            *lag = posted.iter().map(|p| p.lag).fold(*lag, Duration::max);
            all.extend(posted);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    out.load.1 = procfs::load();
    out.cpu_ms = cpu_ticks as f64 * procfs::MS_PER_TICK / relayed.len().max(1) as f64;
    out.gaps = observer.gaps();

    let lines = tee::stamped_lines(&world.lines_path());
    out.breakdown = Breakdown::of(&relayed, &lines, &relay_sends, &observer);
    for p in &relayed {
        match (observer.arrival(&p.tag), lines.get(&p.tag)) {
            (Some(seen), Some(&line)) => {
                out.relay.push(seen.saturating_sub(p.at));
                out.standin.push(line.saturating_sub(p.at));
                out.own.push(seen.saturating_sub(line));
            }
            _ => out.lost_relay += 1,
        }
    }
    for (posted, direct) in [
        (&concurrent, &mut out.concurrent),
        (&in_order, &mut out.in_order),
    ] {
        for p in posted {
            match observer.arrival(&p.tag) {
                Some(seen) => direct.seen.push(seen.saturating_sub(p.at)),
                None => direct.lost += 1,
            }
            direct.acked.extend(p.acked.map(|a| a.saturating_sub(p.at)));
        }
    }
    world.stop();
    if keep {
        println!("latency world kept in {}", world.keep().display());
    }
    out
}

/// How `phase` of `round` went; `ticks`: kbbridge's and Synapse's CPU over it, and the
/// machine's before it.
fn report(
    phase: Phase,
    round: usize,
    posted: &[Posted],
    observer: &Observer,
    (kbbridge, synapse, machine): (u64, u64, (u64, u64)),
) -> PhaseReport {
    let first = posted.iter().map(|p| p.at).min().unwrap_or(0);
    let last = posted
        .iter()
        .filter_map(|p| observer.arrival(&p.tag))
        .max()
        .unwrap_or(first);
    let secs = (last.saturating_sub(first)) as f64 / 1e6;
    let (busy, all) = procfs::machine_ticks();
    let (busy, all) = (
        busy.saturating_sub(machine.0),
        all.saturating_sub(machine.1),
    );
    let wall_ticks = all as f64 / procfs::cpus() as f64;
    let share = |ticks: u64| 100.0 * ticks as f64 / wall_ticks.max(1.0);
    let name = match phase {
        Phase::Relayed => "relayed",
        Phase::Direct(Order::Concurrent) => "direct, as due",
        Phase::Direct(Order::InOrder) => "direct, in order",
    };
    PhaseReport {
        name: format!("{name} (round {})", round + 1),
        relayed: phase == Phase::Relayed,
        delivered: posted.len() as f64 / secs.max(1e-3),
        secs,
        busy: 100.0 * busy as f64 / all.max(1) as f64,
        kbbridge: share(kbbridge),
        synapse: share(synapse),
        synapse_ms: synapse as f64 * procfs::MS_PER_TICK / posted.len().max(1) as f64,
    }
}

/// One message from each sender on each channel, and one from the user in each of its rooms,
/// seen on Matrix before timing starts: every ghost is registered and has joined its rooms.
async fn warm_up(world: &mut World, observer: &Observer, own: &[String]) {
    let mut tags = Vec::new();
    for c in 0..own.len() {
        for (i, sender) in SENDERS.iter().enumerate() {
            let tag = tag('w', c * SENDERS.len() + i);
            let status = world
                .post_command(c, sender, &format!("warm-up {tag}"))
                .status();
            assert!(status.is_ok_and(|s| s.success()), "cannot post on Keybase");
            tags.push(tag);
        }
    }
    for (c, room) in own.iter().enumerate() {
        let tag = tag('w', 100_000 + c);
        let body = json!({"msgtype": "m.text", "body": format!("warm-up {tag}")});
        let sent = world.human.send(room, "m.room.message", body).await;
        sent.expect("a direct send");
        tags.push(tag);
    }
    arrive(world, observer, &tags).await;
}

/// Waits until every one of `tags` was seen on Matrix, or [`ARRIVAL`] passed.
async fn arrive(world: &mut World, observer: &Observer, tags: &[String]) {
    let started = std::time::Instant::now();
    while observer.count(tags) < tags.len() && started.elapsed() < ARRIVAL {
        world.assert_running();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
