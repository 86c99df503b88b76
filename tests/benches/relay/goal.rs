//! The latency goal's verdict over the rates measured: p99 added by kbbridge (its api-listen
//! line → landed on Matrix, less Synapse's own send latency as due) ≤ 50 ms.
//!
//! A difference of quantiles only measures a cost per message where the target keeps up with
//! the rate. Where Synapse itself, sent to directly, delivers less than it is offered, every
//! sender's latency is a queue that grows with the phase's length, and the difference compares
//! two queues (how much CPU each phase left Synapse), so the verdict is given at the rates
//! Synapse kept up with, and the others are said to be beyond this Synapse. Kept up with means
//! by both direct phases, the one in order too: the relay keeps each chat's order, and a rate
//! no order-keeping sender gets through this Synapse is beyond it for the relay as well.

use super::{
    latency::{Latency, PhaseReport},
    stats::{Summary, quantile_difference},
};

/// The goal for the p99 latency kbbridge adds, in ms.
pub const LATENCY_GOAL_MS: f64 = 50.0;

/// The share of the offered rate a phase must deliver to count as kept up with.
const KEPT_UP: f64 = 0.95;

/// The slowest delivered rate of the phases `which` picks.
fn slowest(phases: &[PhaseReport], which: impl Fn(&PhaseReport) -> bool) -> f64 {
    phases
        .iter()
        .filter(|p| which(p))
        .map(|p| p.delivered)
        .fold(f64::INFINITY, f64::min)
}

/// (p50, p99) in ms of kbbridge's part: line → landed on Matrix − direct, as due.
fn added(m: &Latency) -> (f64, f64) {
    quantile_difference(&Summary::of(&m.own), &[&Summary::of(&m.concurrent.seen)])
}

/// Prints the verdict at each rate, and over all.
pub fn print(measured: &[Latency]) {
    println!("\nlatency goal: p99 added by kbbridge ≤ {LATENCY_GOAL_MS} ms");
    let mut judged = Vec::new();
    for m in measured {
        let direct = slowest(&m.phases, |p| !p.relayed);
        let relayed = slowest(&m.phases, |p| p.relayed);
        let (p50, p99) = added(m);
        if direct < KEPT_UP * m.rate {
            println!(
                "  at {}/s: beyond this Synapse. Sent to directly, it delivered {direct:.1} msg/s \
                 at worst (the relay {relayed:.1}): every sender's latency is a queue here (kbbridge's difference of quantiles {p50:.0} ms p50, {p99:.0} ms \
                 p99 compares two queues; see the phases' CPU)",
                m.rate
            );
            continue;
        }
        let met = p99 <= LATENCY_GOAL_MS;
        println!(
            "  at {}/s: Synapse kept up (direct {direct:.1} msg/s, relayed {relayed:.1}); added \
             by kbbridge: p50 {p50:.1} ms, p99 {p99:.1} ms = {:.2} × the goal ({})",
            m.rate,
            p99 / LATENCY_GOAL_MS,
            if met { "met" } else { "missed" }
        );
        judged.push((m.rate, met));
    }
    match judged.iter().map(|&(r, _)| r).max_by(f64::total_cmp) {
        None => println!("  no rate measured that this Synapse kept up with: no verdict"),
        Some(top) => {
            let all = judged.iter().all(|&(_, met)| met);
            println!(
                "  verdict: {} at every rate Synapse kept up with (the highest: {top}/s)",
                if all { "met" } else { "missed" }
            );
        }
    }
}
