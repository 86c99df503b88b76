//! `[backfill]`: parallelism, page size, retries and the pace per target platform.

use std::{collections::BTreeMap, ops::RangeInclusive, time::Duration};

use bridge_core::{
    Platform,
    backfill::{BackfillOptions, Rate},
    retry::RetryPolicy,
};

use crate::{
    error::Problems,
    path::KeyPath,
    raw::{RawBackfill, RawRate},
};

/// The pace per target platform when `[backfill.rate.<platform>]` is not set. Only Keybase has
/// one: the others are paced as fast as the target allows by what they know better than a fixed
/// rate, with `parallel_links` bounding the requests in flight:
/// - Discord: the sink's own limiter learns every bucket from the response headers and keeps
///   under the global limit and the invalid-request budget (a fixed rate here would only slow
///   several channels down to one channel's pace).
/// - Matrix: the appservice is registered with `rate_limited: false`; the homeserver's own
///   `M_LIMIT_EXCEEDED` answers are honoured. Set a rate to spare a shared homeserver.
/// - Keybase: 2 per second, burst 1: the chat service meters writes with a "gas" tank whose
///   limits are not documented, so go slowly.
const DEFAULT_RATES: [(Platform, Option<Rate>); 3] = [
    (Platform::Discord, None),
    (Platform::Matrix, None),
    (
        Platform::Keybase,
        Some(Rate {
            per_second: 2.0,
            burst: 1,
        }),
    ),
];

/// The slowest pace accepted, in messages per second (one per 1000 s): slower than that is a
/// typo, and the pacer's period must fit a `Duration`.
const MIN_RATE: f64 = 0.001;

/// The shortest link lease: renewals go every third of it, and a database round trip or a
/// paused process must fit in the margin.
const MIN_LEASE_SECONDS: i64 = 2;
/// The longest link lease: a dead holder blocks its links for this long.
const MAX_LEASE_SECONDS: i64 = 3600;

/// The largest page a source is asked for at once.
const MAX_PAGE_SIZE: i64 = 1000;

/// The options for `[backfill]` (`raw`, at `path`), defaults filled in; out-of-range numbers are
/// recorded in `problems`.
pub(crate) fn options(
    raw: Option<&RawBackfill>,
    path: &KeyPath,
    problems: &mut Problems,
) -> BackfillOptions {
    let default_raw = RawBackfill::default();
    let raw = raw.unwrap_or(&default_raw);
    let defaults = BackfillOptions::default();
    let retry = RetryPolicy::default();
    let mut number = |value: Option<i64>, default: u64, key: &str, range: RangeInclusive<i64>| {
        bounded(value, default, range, &path.key(key), problems)
    };
    let parallel_links = number(
        raw.parallel_links,
        defaults.parallel_links as u64,
        "parallel_links",
        1..=i64::MAX,
    );
    let page_size = number(
        raw.page_size,
        defaults.page_size as u64,
        "page_size",
        1..=MAX_PAGE_SIZE,
    );
    let attempts = number(
        raw.retry_attempts,
        retry.max_attempts as u64,
        "retry_attempts",
        1..=i64::MAX,
    );
    let min_ms = retry.min_delay.as_millis() as u64;
    let max_ms = retry.max_delay.as_millis() as u64;
    let min_delay = number(
        raw.retry_min_delay_ms,
        min_ms,
        "retry_min_delay_ms",
        0..=i64::MAX,
    );
    let max_delay = number(
        raw.retry_max_delay_ms,
        max_ms,
        "retry_max_delay_ms",
        0..=i64::MAX,
    );
    if min_delay > max_delay {
        problems.push(
            path.key("retry_max_delay_ms"),
            format!("{max_delay} is smaller than retry_min_delay_ms ({min_delay})"),
        );
    }
    let lease = bounded(
        raw.lease_seconds,
        defaults.lease_ttl.as_secs(),
        MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS,
        &path.key("lease_seconds"),
        problems,
    );

    let rates_path = path.key("rate");
    let raw_rates = raw.rate.as_ref();
    let rates = DEFAULT_RATES
        .into_iter()
        .filter_map(|(platform, default)| {
            let set = raw_rates.and_then(|r| match platform {
                Platform::Discord => r.discord.as_ref(),
                Platform::Matrix => r.matrix.as_ref(),
                Platform::Keybase => r.keybase.as_ref(),
            });
            let rate = match set {
                Some(set) => Some(rate(set, &rates_path.key(platform.as_str()), problems)),
                None => default,
            };
            rate.map(|rate| (platform, rate))
        })
        .collect::<BTreeMap<_, _>>();

    BackfillOptions {
        parallel_links: usize::try_from(parallel_links).unwrap_or(usize::MAX),
        page_size: page_size as usize,
        rates,
        retry: RetryPolicy {
            max_attempts: usize::try_from(attempts).unwrap_or(usize::MAX),
            min_delay: Duration::from_millis(min_delay),
            max_delay: Duration::from_millis(max_delay),
        },
        lease_ttl: Duration::from_secs(lease),
    }
}

/// `[backfill.rate.<platform>]` (at `path`): `messages_per_second` is required, `burst` is 1
/// unless set.
fn rate(raw: &RawRate, path: &KeyPath, problems: &mut Problems) -> Rate {
    let per_second = match raw.messages_per_second {
        None => {
            problems.push(
                path.key("messages_per_second"),
                "missing (required in this table)",
            );
            1.0
        }
        Some(v) if !(v.is_finite() && v > 0.0) => {
            problems.push(
                path.key("messages_per_second"),
                format!("must be a finite number above 0, not {v}"),
            );
            1.0
        }
        Some(v) if v < MIN_RATE => {
            problems.push(
                path.key("messages_per_second"),
                format!("must be at least {MIN_RATE}, not {v}"),
            );
            1.0
        }
        Some(v) => v,
    };
    let burst = bounded(
        raw.burst,
        1,
        1..=i64::from(u32::MAX),
        &path.key("burst"),
        problems,
    );
    Rate {
        per_second,
        burst: u32::try_from(burst).unwrap_or(1),
    }
}

/// `value` if set and within `range`, else `default` (recording a problem if it was set).
fn bounded(
    value: Option<i64>,
    default: u64,
    range: RangeInclusive<i64>,
    path: &KeyPath,
    problems: &mut Problems,
) -> u64 {
    let Some(value) = value else { return default };
    if range.contains(&value) {
        return value as u64;
    }
    let message = match (*range.start(), *range.end()) {
        (0, i64::MAX) => format!("must not be negative, not {value}"),
        (min, i64::MAX) => format!("must be at least {min}, not {value}"),
        (min, max) => format!("must be between {min} and {max}, not {value}"),
    };
    problems.push(path.clone(), message);
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawRates;

    #[test]
    fn defaults_pace_only_keybase() {
        let mut problems = Problems::default();
        let options = options(None, &KeyPath::root().key("backfill"), &mut problems);
        assert!(problems.is_empty());
        assert_eq!(
            options.rates[&Platform::Keybase],
            Rate {
                per_second: 2.0,
                burst: 1
            }
        );
        // Discord's sink paces itself by its buckets; Matrix runs as fast as Synapse answers.
        assert_eq!(options.rates.len(), 1);
        assert_eq!(options.retry, RetryPolicy::default());
        assert_eq!((options.parallel_links, options.page_size), (4, 100));
    }

    #[test]
    fn out_of_range_numbers_are_all_reported() {
        let raw = RawBackfill {
            parallel_links: Some(0),
            page_size: Some(5000),
            retry_attempts: Some(-1),
            retry_min_delay_ms: Some(10_000),
            retry_max_delay_ms: Some(100),
            lease_seconds: Some(1),
            rate: Some(RawRates {
                matrix: Some(RawRate {
                    messages_per_second: Some(f64::INFINITY),
                    burst: Some(0),
                }),
                keybase: Some(RawRate {
                    messages_per_second: None,
                    burst: None,
                }),
                discord: Some(RawRate {
                    messages_per_second: Some(1e-9),
                    burst: Some(2),
                }),
            }),
        };
        let mut problems = Problems::default();
        options(Some(&raw), &KeyPath::root().key("backfill"), &mut problems);
        let paths: Vec<String> = problems.0.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            paths,
            [
                "backfill.parallel_links",
                "backfill.page_size",
                "backfill.retry_attempts",
                "backfill.retry_max_delay_ms",
                "backfill.lease_seconds",
                "backfill.rate.discord.messages_per_second",
                "backfill.rate.matrix.messages_per_second",
                "backfill.rate.matrix.burst",
                "backfill.rate.keybase.messages_per_second",
            ]
        );
    }
}
