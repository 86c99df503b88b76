//! The metrics the engines record, named in one place. They go through the `metrics` facade:
//! without a recorder installed (tests, one-shot commands) they cost next to nothing; the
//! `kbbridge run` admin listener installs one and renders them as Prometheus text.
//!
//! Labels stay few and bounded: platforms, modes, outcomes, and the link's name (one per
//! configured link).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::{adapter::AdapterError, ids::Platform};

/// A part sent to `to` in `mode` (`backfill` or `live`), and how long the send took.
pub fn part_sent(to: Platform, mode: &'static str, took: Duration) {
    counter!("kbbridge_parts_sent_total", "to" => to.as_str(), "mode" => mode).increment(1);
    histogram!("kbbridge_send_seconds", "to" => to.as_str()).record(took.as_secs_f64());
}

/// A message of link `link`, from `from` to `to`, ended as `outcome` (`copied`, `rejected`,
/// `degraded`, `failed`).
pub fn message(link: &str, from: Platform, to: Platform, outcome: &'static str) {
    counter!(
        "kbbridge_messages_total",
        "link" => link.to_owned(),
        "direction" => format!("{from}>{to}"),
        "outcome" => outcome
    )
    .increment(1);
}

/// A retry of a request to `to` after `error`, waiting `delay`.
pub fn retrying(to: Platform, error: &AdapterError, delay: Duration) {
    if matches!(error, AdapterError::RateLimited { .. }) {
        counter!("kbbridge_rate_limited_total", "to" => to.as_str()).increment(1);
    }
    counter!("kbbridge_retries_total", "to" => to.as_str()).increment(1);
    histogram!("kbbridge_retry_wait_seconds", "to" => to.as_str()).record(delay.as_secs_f64());
}

/// A live event from `from` applied (or given up), ended as `outcome`.
pub fn relayed(from: Platform, outcome: &'static str) {
    counter!("kbbridge_relay_events_total", "from" => from.as_str(), "outcome" => outcome)
        .increment(1);
}

/// A live message from `from` copied `lag` after it was sent on its platform.
pub fn relay_lag(from: Platform, lag: Duration) {
    histogram!("kbbridge_relay_lag_seconds", "from" => from.as_str()).record(lag.as_secs_f64());
}

/// Events waiting for the relay's workers, up or down by one.
pub fn queued(delta: f64) {
    gauge!("kbbridge_relay_queue_depth").increment(delta);
}

/// A lease taken (`1.0`) or let go (`-1.0`).
pub fn lease_held(delta: f64) {
    gauge!("kbbridge_leases_held").increment(delta);
}
