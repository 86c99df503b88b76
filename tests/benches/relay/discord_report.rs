//! The Discord part's tables: latency by world and phase, the added latency where the rate is
//! one the limits allow, each phase's rate, 429s and pacing, and the goal line.

use super::{
    discord::{Kind, Phase, Settings, WorldRun},
    posting::Order,
    stats::{Summary, difference, header, row},
};

/// kbbridge's own global limit: 50 requests per 1 s plus its 15 ms margin (adapter-discord's
/// `LimiterOptions::default`, Discord's figure, not configurable).
const KBBRIDGE_GLOBAL_PER_S: f64 = 50.0 / 1.015;

/// Prints the Discord part's figures.
pub fn print(s: &Settings, runs: &[WorldRun]) {
    println!(
        "\nrelay to Discord: Keybase stand-in → kbbridge run → Discord stand-in, {} channels, \
         {} messages per phase",
        s.channels, s.messages
    );
    let unpaced = unpaced_send(runs);
    for run in runs {
        let l = &run.limits;
        let allowed = (l.webhook_execute.per_second() * s.channels as f64)
            .min(l.global.per_second())
            .min(KBBRIDGE_GLOBAL_PER_S);
        header(&format!(
            "{}: webhook execute {} per {:.3} s per webhook, global {} per {:.3} s → at most \
             {allowed:.1} msg/s (kbbridge's own global limit included)",
            run.name,
            l.webhook_execute.limit,
            l.webhook_execute.window.as_secs_f64(),
            l.global.limit,
            l.global.window.as_secs_f64(),
        ));
        for p in &run.phases {
            latency_rows(p, allowed);
        }
        added(&run.phases);
    }
    phase_table(s, runs, unpaced);
    let behind = runs
        .iter()
        .flat_map(|r| &r.phases)
        .map(|p| p.worst_lag)
        .max()
        .unwrap_or_default();
    println!(
        "latest post or direct send behind its schedule: {:.1} ms",
        behind.as_secs_f64() * 1000.0
    );
    let late: u64 = runs.iter().map(|r| r.all.late_429).sum();
    let route: u64 = runs.iter().map(|r| r.all.route_429).sum();
    let global: u64 = runs.iter().map(|r| r.all.global_429).sum();
    println!(
        "late 429s (from a bucket that had answered once), both worlds, warm-ups included: \
         {late} (route 429s {route}, global {global}) — goal 0: {}",
        if late == 0 { "met" } else { "missed" }
    );
}

fn latency_rows(p: &Phase, allowed: f64) {
    match p.kind {
        Kind::Relayed => {
            row(
                &format!("relayed at {}/s: post → on Discord", p.rate),
                &Summary::of(&p.total),
            );
            row(
                "  stand-in: post → kbbridge's api-listen line",
                &Summary::of(&p.standin),
            );
            row(
                "  kbbridge + Discord: line → on Discord",
                &Summary::of(&p.own),
            );
            if p.delivered < 0.95 * p.rate {
                let waited = p.sent as f64 / p.delivered.max(1e-3) - p.sent as f64 / p.rate;
                println!(
                    "  ↑ a queue, not a cost per message: {}/s offered, {:.1}/s delivered \
                     ({allowed:.1}/s allowed);\n    the last message waited ~{waited:.0} s \
                     more than the first, and the wait grows with the phase's length",
                    p.rate, p.delivered
                );
            }
        }
        Kind::Direct(order) => {
            row(
                &format!(
                    "direct, {} at {}/s: due → on Discord",
                    order_name(order),
                    p.rate
                ),
                &Summary::of(&p.total),
            );
            row("  due → the stand-in's answer", &Summary::of(&p.acked));
        }
    }
}

/// The added latency at each rate that has relayed and direct phases and is not a queue.
fn added(phases: &[Phase]) {
    let at = |kind: Kind, rate: f64| phases.iter().find(|p| p.kind == kind && p.rate == rate);
    for relayed in phases.iter().filter(|p| p.kind == Kind::Relayed) {
        let rate = relayed.rate;
        let (Some(due), Some(in_order)) = (
            at(Kind::Direct(Order::Concurrent), rate),
            at(Kind::Direct(Order::InOrder), rate),
        ) else {
            continue;
        };
        if relayed.delivered < 0.95 * rate {
            println!(
                "no added latency at {rate}/s: the relay is a queue there (its wait, not \
                 kbbridge's cost)"
            );
            continue;
        }
        println!(
            "{:<46} {:>6} {:>9} {:>9}",
            format!("added at {rate}/s (differences of quantiles)"),
            "",
            "p50 ms",
            "p99 ms"
        );
        let (own, total) = (Summary::of(&relayed.own), Summary::of(&relayed.total));
        let (due, in_order) = (Summary::of(&due.total), Summary::of(&in_order.total));
        let (_, p99) = difference("  kbbridge: line → on Discord − direct", &own, &[&due]);
        difference("  relayed − direct (stand-in included)", &total, &[&due]);
        difference(
            "    keeping order: direct in order − as due",
            &in_order,
            &[&due],
        );
        difference(
            "    the rest: line → on Discord − in order",
            &own,
            &[&in_order],
        );
        println!("  p99 added by kbbridge at {rate}/s: {p99:.1} ms");
    }
}

fn order_name(order: Order) -> &'static str {
    match order {
        Order::Concurrent => "as due",
        Order::InOrder => "in order",
    }
}

/// kbbridge's mean time in a Discord send where no limit made it wait: the relayed phase of
/// the world with the limits lifted whose rate was delivered (s).
fn unpaced_send(runs: &[WorldRun]) -> Option<f64> {
    runs.iter()
        .flat_map(|r| &r.phases)
        .filter(|p| p.kind == Kind::Relayed && p.delivered >= 0.95 * p.rate)
        .filter(|p| p.counted.route_429 == 0 && p.sends.count > 0.0)
        .map(|p| p.sends.seconds / p.sends.count)
        .reduce(f64::min)
}

fn phase_table(s: &Settings, runs: &[WorldRun], unpaced: Option<f64>) {
    println!(
        "\n{:<42} {:>7} {:>6} {:>5} {:>4} {:>5} {:>5} {:>4} {:>5} {:>7} {:>6} {:>6} {:>5}",
        "phase",
        "msg/s",
        "s",
        "req/m",
        "lost",
        "r429",
        "g429",
        "late",
        "kb429",
        "in send",
        "paced",
        "kb CPU",
        "busy"
    );
    for run in runs {
        for p in &run.phases {
            let name = match p.kind {
                Kind::Relayed => "relayed",
                Kind::Direct(Order::Concurrent) => "direct, as due",
                Kind::Direct(Order::InOrder) => "direct, in order",
            };
            let worker_secs = s.channels as f64 * p.secs.max(1e-3);
            let (in_send, paced, kb429) = if p.kind == Kind::Relayed {
                let in_send = 100.0 * p.sends.seconds / worker_secs;
                let paced = unpaced.map_or("-".to_owned(), |u| {
                    let waited = (p.sends.seconds - p.sends.count * u).max(0.0);
                    format!("{:.0}%", 100.0 * waited / worker_secs)
                });
                (
                    format!("{in_send:.0}%"),
                    paced,
                    format!("{:.0}", p.sends.rate_limited),
                )
            } else {
                ("-".into(), "-".into(), "-".into())
            };
            println!(
                "{:<42} {:>7.1} {:>6.1} {:>5.2} {:>4} {:>5} {:>5} {:>4} {:>5} {:>7} {:>6} {:>5.0}% \
                 {:>4.0}%",
                format!("{name} at {}/s, {}", p.rate, run.short),
                p.delivered,
                p.secs,
                p.counted.requests as f64 / p.sent.max(1) as f64,
                p.lost,
                p.counted.route_429,
                p.counted.global_429,
                p.counted.late_429,
                kb429,
                in_send,
                paced,
                p.kbbridge_cpu,
                p.busy
            );
        }
    }
    println!(
        "(msg/s: delivered over first post → last arrival (s); req/m: requests the stand-in \
         got per message; r429, \
         g429, late: the stand-in's route, global and late 429s; kb429: 429s kbbridge retried; \
         in send: kbbridge's time inside Discord sends (its limiter's waits and retries \
         included) over the {} channels' time; paced: that time less its unpaced cost \
         ({}), the share the rate limiter made it wait; kb CPU: % of one CPU; busy: the \
         machine's CPUs, other processes included)",
        s.channels,
        unpaced.map_or("unknown: no relayed phase kept up".to_owned(), |u| format!(
            "{:.1} ms a send, from the relayed phase with the limits lifted that kept up",
            u * 1000.0
        ))
    );
}
