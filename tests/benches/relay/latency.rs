//! The latency part: Keybase posts relayed by kbbridge to Matrix, against messages sent
//! straight to Synapse at the same rate, all at once or one in flight per room, each landed
//! when Synapse finished its send (`arrivals.rs`).

use std::{path::Path, time::Duration};

use adapter_matrix::testing::pushing::Human;

use super::{
    arrivals::Arrivals,
    breakdown::Breakdown,
    keybase_side::SENDERS,
    posting::{self, Order, Posted, Schedule},
    procfs,
    stamp::{kind_of, tag},
    synapse_log::{self, Send},
    tee,
    world::World,
};

/// What the latency part is run with.
pub struct Settings {
    /// Messages of each kind per rate, over all rounds.
    pub messages: usize,
    /// The rates to measure at, messages per second over all channels, each in turn on the
    /// same world.
    pub rates: Vec<f64>,
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
    /// Sent straight to Synapse as the senders' ghosts into the same rooms, as `Order` says.
    Direct(Order),
}

/// Messages sent straight to Synapse: durations (µs) and what went missing.
#[derive(Default)]
pub struct Direct {
    /// Due → landed on Matrix.
    pub seen: Vec<u64>,
    /// Due → Synapse's answer.
    pub acked: Vec<u64>,
    /// Synapse's time over each send, by its log.
    pub synapse: Vec<u64>,
    /// Never landed, or not in its room when read back.
    pub lost: usize,
    /// The latest send against its schedule.
    pub worst_lag: Duration,
}

/// The measured durations (µs) and what went missing, at one rate.
#[derive(Default)]
pub struct Latency {
    /// Messages per second offered, over all channels.
    pub rate: f64,
    /// Keybase post → landed on Matrix.
    pub relay: Vec<u64>,
    /// Keybase post → the line of kbbridge's api-listen (the stand-in's own delivery).
    pub standin: Vec<u64>,
    /// That line → landed on Matrix (kbbridge, then Synapse).
    pub own: Vec<u64>,
    /// Where line → landed on Matrix went.
    pub breakdown: Breakdown,
    /// Relayed messages that never landed on Matrix, were not in their room when read back,
    /// or were never stamped on api-listen.
    pub lost_relay: usize,
    /// The latest Keybase post against its schedule.
    pub relay_lag: Duration,
    /// Sent straight to Synapse, each when due.
    pub concurrent: Direct,
    /// Sent straight to Synapse, one in flight per room.
    pub in_order: Direct,
    /// kbbridge's CPU time per relayed message (ms), over the relayed phases.
    pub cpu_ms: f64,
    /// The system's load average (1 min) before and after.
    pub load: (String, String),
    /// Each phase, in the order run.
    pub phases: Vec<PhaseReport>,
    /// The tags of every message posted, to read back.
    pub tags: Vec<String>,
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
    /// Synapse's CPU time per message of the phase (ms).
    pub synapse_ms: f64,
}

/// How long the last message of a phase may take to show.
const ARRIVAL: Duration = Duration::from_secs(120);

/// Runs the latency part at each of `s.rates` on one world of `s.channels` links; keeps the
/// world's folder when `keep`.
pub async fn run(standin: &Path, s: &Settings, keep: bool) -> Vec<Latency> {
    let mut world = World::new(s.channels, standin, true).await;
    world.start();
    world.relaying().await;
    let rooms = world.rooms(true).await;
    warm_up(&mut world, &rooms).await;
    // The senders of the direct phases: the ghosts of the relayed messages' senders, written as
    // by the appservice, so their messages reach the same rooms and readers as the copies.
    let ghosts: Vec<Human> = SENDERS.iter().map(|s| world.appservice_user(s)).collect();

    let mut all = Vec::new();
    let mut arrivals = Arrivals::start();
    for (n, &rate) in s.rates.iter().enumerate() {
        // Tags stay unique over rates: each rate's messages are numbered from its own base.
        let first = n * s.messages.max(1) * 2;
        let mut m = at_rate(&mut world, &mut arrivals, (&ghosts, &rooms), s, rate, first).await;
        // Each message landed as Synapse said: all of them are in their rooms.
        let reader = world.human.read_back();
        let tags: Vec<String> = m.tags.drain(..).collect();
        for tag in Arrivals::missing(&reader, &rooms, &tags).await {
            match kind_of(&tag) {
                Some('r') => m.lost_relay += 1,
                Some('d') => m.concurrent.lost += 1,
                _ => m.in_order.lost += 1,
            }
        }
        all.push(m);
    }
    world.stop();
    if keep {
        println!("latency world kept in {}", world.keep().display());
    }
    all
}

/// Every round at `rate`, direct phases sent by `ghosts` into `rooms`; message numbers start
/// at `first`.
async fn at_rate(
    world: &mut World,
    arrivals: &mut Arrivals,
    (ghosts, rooms): (&[Human], &[String]),
    s: &Settings,
    rate: f64,
    first: usize,
) -> Latency {
    let mut out = Latency {
        rate,
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
            first: first + round * per_round,
            count: per_round,
            rate,
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
                    posting::on_matrix(ghosts, rooms, kind, order, schedule).await
                }
            };
            out.tags.extend(posted.iter().map(|p| p.tag.clone()));
            let txns: Vec<String> = posted.iter().filter_map(|p| p.txn.clone()).collect();
            arrive(world, arrivals, &txns).await;
            out.phases.push(report(
                phase,
                round,
                &posted,
                arrivals,
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

    let lines = tee::stamped_lines(&world.lines_path());
    out.breakdown = Breakdown::of(&relayed, &lines, &relay_sends);
    let landed = |p: &Posted| arrivals.arrival(p.txn.as_deref()?);
    for p in &relayed {
        match (landed(p), lines.get(&p.tag)) {
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
            match landed(p) {
                Some(seen) => direct.seen.push(seen.saturating_sub(p.at)),
                None => direct.lost += 1,
            }
            direct.acked.extend(p.acked.map(|a| a.saturating_sub(p.at)));
        }
    }
    out
}

/// How `phase` of `round` went; `ticks`: kbbridge's and Synapse's CPU over it, and the
/// machine's before it.
fn report(
    phase: Phase,
    round: usize,
    posted: &[Posted],
    arrivals: &Arrivals,
    (kbbridge, synapse, machine): (u64, u64, (u64, u64)),
) -> PhaseReport {
    let first = posted.iter().map(|p| p.at).min().unwrap_or(0);
    let last = posted
        .iter()
        .filter_map(|p| arrivals.arrival(p.txn.as_deref()?))
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

/// One message from each sender on each channel, in `rooms` (read back as the user) before
/// timing starts: every ghost is registered and has joined its rooms.
async fn warm_up(world: &mut World, rooms: &[String]) {
    let mut tags = Vec::new();
    for c in 0..rooms.len() {
        for (i, sender) in SENDERS.iter().enumerate() {
            let tag = tag('w', c * SENDERS.len() + i);
            let status = world
                .post_command(c, sender, &format!("warm-up {tag}"))
                .status();
            assert!(status.is_ok_and(|s| s.success()), "cannot post on Keybase");
            tags.push(tag);
        }
    }
    let reader = world.human.read_back();
    let started = std::time::Instant::now();
    while !Arrivals::missing(&reader, rooms, &tags).await.is_empty() {
        world.assert_running();
        assert!(started.elapsed() < ARRIVAL, "the warm-up never arrived");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until Synapse finished the send of every one of `txns`, or [`ARRIVAL`] passed.
async fn arrive(world: &mut World, arrivals: &mut Arrivals, txns: &[String]) {
    let started = std::time::Instant::now();
    loop {
        arrivals.refresh();
        if arrivals.count(txns) >= txns.len() || started.elapsed() >= ARRIVAL {
            return;
        }
        world.assert_running();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
