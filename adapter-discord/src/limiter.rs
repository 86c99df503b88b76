//! kbbridge's own Discord rate limiter, in front of every request (and of serenity's limiter,
//! when that one is on).
//!
//! - **Buckets** (keyed like serenity's: route and top-level ID) are learned from the
//!   `X-RateLimit-Limit`, `-Remaining` and `-Reset-After` headers. Until a bucket's first answer
//!   only one request goes out on it, so N parallel calls on a fresh bucket cannot all overflow
//!   it. A bucket with no remaining request waits for its reset (plus a small margin for the
//!   network), so the steady state sends no request Discord would refuse. A request that gets
//!   no answer (a dropped connection) counts as spent; when the count runs out with no reset
//!   time known and nothing in flight, one request goes alone to learn the bucket again.
//! - **Global**: at most `global_limit` requests in any sliding `global_window` (plus the
//!   margin), which keeps every fixed window under the limit. A 429 with the global flag
//!   blocks everything for its retry-after.
//! - **Invalid requests**: 401, 403 and 429 answers (except `shared` scope) are counted over the
//!   sliding window; at `pause_at` of the budget every request waits until old ones expire, so
//!   the 1015 block is never reached.
//!
//! governor is not used here: its GCRA cells allow a burst *and* the rate in the same second,
//! which a fixed-window server counts as an overflow; a log of send times is exact.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use reqwest::{StatusCode, header::HeaderMap};
use serenity::http::{RatelimitInfo, RatelimitingBucket};
use tokio::{sync::Notify, time::Instant};
use tracing::{debug, warn};

/// How the limiter behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct LimiterOptions {
    /// Requests per `global_window` for the whole bot (Discord: 50 per second).
    pub global_limit: u32,
    /// The global limit's window (Discord: 1 s).
    pub global_window: Duration,
    /// Invalid requests (401, 403, 429) allowed per `invalid_window` (Discord: 10,000).
    pub invalid_budget: u32,
    /// The invalid-request window (Discord: 10 minutes).
    pub invalid_window: Duration,
    /// The share of the budget at which requests pause until old invalid ones expire.
    pub pause_at: f64,
    /// Added to every wait for a reset, for network delays between Discord's clock and ours.
    pub margin: Duration,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        Self {
            global_limit: 50,
            global_window: Duration::from_secs(1),
            invalid_budget: 10_000,
            invalid_window: Duration::from_secs(600),
            pause_at: 0.25,
            margin: Duration::from_millis(15),
        }
    }
}

/// What the limiter knows about one bucket.
#[derive(Debug, Default)]
struct Bucket {
    /// Whether an answer taught us its limits (or that it has none).
    known: bool,
    /// Requests per window; 0 when answers carry no limit.
    limit: u32,
    /// Requests left in the current window, as far as we know.
    remaining: u32,
    /// When the window resets (margin included).
    reset_at: Option<Instant>,
    /// Requests sent and not answered yet.
    in_flight: u32,
    /// A 429 told us to wait until then.
    blocked_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<RatelimitingBucket, Bucket>,
    /// Send times of the last second.
    sent: VecDeque<Instant>,
    global_blocked: Option<Instant>,
    /// Times of the invalid answers in the window.
    invalid: VecDeque<Instant>,
    paused: bool,
}

/// What an answer says about the limits.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// The HTTP status.
    pub(crate) status: u16,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset-After`.
    pub(crate) window: Option<(u32, u32, Duration)>,
    /// For a 429: how long to wait.
    pub(crate) retry_after: Option<Duration>,
    /// For a 429: whether it is the global limit.
    pub(crate) global: bool,
    /// For a 429: whether it is a `shared` limit (not counted as invalid).
    pub(crate) shared: bool,
}

impl Observed {
    /// Reads the rate-limit facts of an answer: headers, and for a 429 the JSON body's
    /// `retry_after` and `global`.
    pub(crate) fn read(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let num = |name: &str| header(name).and_then(|v| v.trim().parse::<f64>().ok());
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).ok();
        let window = match (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            num("x-ratelimit-reset-after"),
        ) {
            (Some(l), Some(r), Some(a)) => secs(a).map(|a| (l as u32, r as u32, a)),
            _ => None,
        };
        let mut o = Observed {
            status: status.as_u16(),
            window,
            ..Observed::default()
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
            let body_after = json
                .as_ref()
                .and_then(|j| j.get("retry_after"))
                .and_then(serde_json::Value::as_f64);
            o.retry_after = body_after.or_else(|| num("retry-after")).and_then(secs);
            o.global = header("x-ratelimit-global").is_some()
                || json
                    .as_ref()
                    .and_then(|j| j.get("global"))
                    .and_then(serde_json::Value::as_bool)
                    == Some(true);
            o.shared = header("x-ratelimit-scope") == Some("shared");
        }
        o
    }
}

/// The limiter; one per sink, shared by every channel's sends.
#[derive(Debug)]
pub struct Limiter {
    options: LimiterOptions,
    state: Mutex<State>,
    changed: Notify,
}

/// Leave to send one request on a bucket; give the answer back with [`Limiter::observe`].
/// Dropping it without an answer (no response) only frees the bucket.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
    key: RatelimitingBucket,
    open: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.open {
            let mut s = self.limiter.lock();
            if let Some(b) = s.buckets.get_mut(&self.key) {
                b.in_flight = b.in_flight.saturating_sub(1);
            }
            drop(s);
            self.limiter.changed.notify_waiters();
        }
    }
}

enum Wait {
    Go,
    Until(Instant),
    Answer,
}

impl Limiter {
    /// A limiter with `options`.
    pub fn new(options: LimiterOptions) -> Self {
        Self {
            options,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Invalid answers counted in the current window.
    pub fn invalid_count(&self) -> usize {
        let mut s = self.lock();
        self.prune_invalid(&mut s, Instant::now());
        s.invalid.len()
    }

    fn prune_invalid(&self, s: &mut State, now: Instant) {
        while s
            .invalid
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.options.invalid_window)
        {
            s.invalid.pop_front();
        }
    }

    fn count_invalid(&self, s: &mut State, now: Instant) {
        s.invalid.push_back(now);
        self.prune_invalid(s, now);
    }

    /// Waits until a request may go on `key`.
    pub(crate) async fn acquire(&self, key: RatelimitingBucket) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            let wait = self.try_take(key);
            match wait {
                Wait::Go => {
                    return Permit {
                        limiter: self,
                        key,
                        open: true,
                    };
                }
                Wait::Until(t) => tokio::time::sleep_until(t).await,
                Wait::Answer => {
                    // Woken by any answer; a timeout guards against a lost wake-up.
                    let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
                }
            }
        }
    }

    fn try_take(&self, key: RatelimitingBucket) -> Wait {
        let now = Instant::now();
        let o = &self.options;
        let mut s = self.lock();
        self.prune_invalid(&mut s, now);
        let pause_at = ((f64::from(o.invalid_budget) * o.pause_at) as usize).max(1);
        if s.invalid.len() >= pause_at {
            if !s.paused {
                s.paused = true;
                warn!(
                    invalid = s.invalid.len(),
                    budget = o.invalid_budget,
                    "many refused Discord requests; pausing until they age out of the window"
                );
            }
            let oldest = s.invalid.front().copied().unwrap_or(now);
            return Wait::Until(oldest + o.invalid_window);
        }
        s.paused = false;
        if let Some(t) = s.global_blocked.filter(|t| *t > now) {
            return Wait::Until(t);
        }
        let b = s.buckets.entry(key).or_default();
        if let Some(t) = b.blocked_until.filter(|t| *t > now) {
            return Wait::Until(t);
        }
        if !b.known {
            if b.in_flight > 0 {
                return Wait::Answer;
            }
        } else if b.limit > 0 {
            if b.reset_at.is_some_and(|t| t <= now) {
                b.remaining = b.limit;
                b.reset_at = None;
            }
            if b.remaining == 0 {
                match b.reset_at {
                    Some(t) => return Wait::Until(t),
                    // Only an answer can tell when the window resets. Requests that lost their
                    // connection spend `remaining` and never answer, so with none in flight
                    // one request goes alone to learn it; waiting would never end.
                    None if b.in_flight > 0 => return Wait::Answer,
                    None => {}
                }
            }
        }
        let second = o.global_window + o.margin;
        while s
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= second)
        {
            s.sent.pop_front();
        }
        if s.sent.len() >= o.global_limit.max(1) as usize {
            if let Some(first) = s.sent.front() {
                return Wait::Until(*first + second);
            }
        }
        s.sent.push_back(now);
        let b = s.buckets.entry(key).or_default();
        b.in_flight += 1;
        if b.known && b.limit > 0 {
            b.remaining = b.remaining.saturating_sub(1);
        }
        Wait::Go
    }

    /// Learns from the answer to `permit`'s request.
    pub(crate) fn observe(&self, mut permit: Permit<'_>, seen: &Observed) {
        permit.open = false;
        let now = Instant::now();
        let mut s = self.lock();
        let margin = self.options.margin;
        let b = s.buckets.entry(permit.key).or_default();
        b.in_flight = b.in_flight.saturating_sub(1);
        if let Some((limit, remaining, reset_after)) = seen.window {
            b.known = true;
            b.limit = limit;
            // Requests still in flight may not have been counted by Discord yet.
            b.remaining = remaining.saturating_sub(b.in_flight);
            b.reset_at = Some(now + reset_after + margin);
        } else if (200..300).contains(&seen.status) && !b.known {
            // Routes without rate-limit headers are not limited per route.
            b.known = true;
            b.limit = 0;
        }
        if seen.status == 429 {
            let wait = seen.retry_after.unwrap_or(Duration::from_secs(1)) + margin;
            if seen.global {
                s.global_blocked = Some(now + wait);
            } else {
                b.blocked_until = Some(now + wait);
                b.remaining = 0;
            }
            debug!(global = seen.global, retry_after = ?wait, "discord 429");
        }
        if matches!(seen.status, 401 | 403) || (seen.status == 429 && !seen.shared) {
            self.count_invalid(&mut s, now);
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// Told by serenity's own limiter that it hit a 429 (or waited for a bucket): counted as an
    /// invalid request (to be safe), and a global one blocks every request for its timeout.
    pub(crate) fn note_serenity(&self, info: &RatelimitInfo) {
        let now = Instant::now();
        let mut s = self.lock();
        self.count_invalid(&mut s, now);
        if info.global {
            s.global_blocked = Some(now + info.timeout + self.options.margin);
        }
    }
}

#[cfg(test)]
mod tests {
    use serenity::{http::Route, model::id::ChannelId};

    use super::*;

    fn key(c: u64) -> RatelimitingBucket {
        Route::ChannelMessages {
            channel_id: ChannelId::new(c + 1),
        }
        .ratelimiting_bucket()
    }

    fn window(limit: u32, remaining: u32, ms: u64) -> Observed {
        Observed {
            status: 200,
            window: Some((limit, remaining, Duration::from_millis(ms))),
            ..Observed::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_bucket_lets_one_request_out_until_it_is_answered() {
        let l = Limiter::new(LimiterOptions::default());
        let first = l.acquire(key(1)).await;
        // A second request waits for the first answer.
        assert!(matches!(l.try_take(key(1)), Wait::Answer));
        // Another bucket is independent.
        drop(l.acquire(key(2)).await);
        l.observe(first, &window(5, 4, 2000));
        for _ in 0..4 {
            let p = l.acquire(key(1)).await;
            l.observe(p, &window(5, 3, 2000));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_waits_for_its_reset() {
        let l = Limiter::new(LimiterOptions::default());
        let p = l.acquire(key(1)).await;
        l.observe(p, &window(5, 0, 2000));
        let start = Instant::now();
        let p = l.acquire(key(1)).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(2000), "{waited:?}");
        assert!(waited <= Duration::from_millis(2100), "{waited:?}");
        drop(p);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_without_an_answer_never_leave_a_bucket_waiting_for_one() {
        let l = Limiter::new(LimiterOptions::default());
        let p = l.acquire(key(1)).await;
        l.observe(p, &window(5, 4, 2000));
        tokio::time::advance(Duration::from_secs(3)).await;
        // Past the reset: five requests whose connections drop, so no answer says when the
        // window resets again.
        for _ in 0..5 {
            drop(l.acquire(key(1)).await);
        }
        let start = Instant::now();
        let p = tokio::time::timeout(Duration::from_secs(10), l.acquire(key(1)))
            .await
            .expect("the bucket is usable again");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        // That request goes alone: the next waits for its answer, which teaches the bucket.
        assert!(matches!(l.try_take(key(1)), Wait::Answer));
        l.observe(p, &window(5, 4, 2000));
        assert!(matches!(l.try_take(key(1)), Wait::Go));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_without_rate_limit_headers_does_not_stall_its_bucket() {
        let l = Limiter::new(LimiterOptions::default());
        let p = l.acquire(key(1)).await;
        l.observe(p, &window(5, 4, 200));
        tokio::time::advance(Duration::from_secs(1)).await;
        let p = l.acquire(key(1)).await;
        let r = Observed {
            status: 429,
            retry_after: Some(Duration::from_millis(500)),
            ..Observed::default()
        };
        l.observe(p, &r);
        let start = Instant::now();
        let p = tokio::time::timeout(Duration::from_secs(10), l.acquire(key(1)))
            .await
            .expect("the bucket is usable after the retry-after");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        drop(p);
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_limit_holds_in_every_second() {
        let l = Limiter::new(LimiterOptions {
            global_limit: 10,
            ..LimiterOptions::default()
        });
        let start = Instant::now();
        let mut times = Vec::new();
        for i in 0..30 {
            let p = l.acquire(key(100 + i)).await;
            times.push(start.elapsed());
            l.observe(
                p,
                &Observed {
                    status: 200,
                    ..Observed::default()
                },
            );
        }
        for w in times.windows(11) {
            assert!(w[10] - w[0] >= Duration::from_secs(1), "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_its_bucket_or_everything_when_global() {
        let l = Limiter::new(LimiterOptions::default());
        let p = l.acquire(key(1)).await;
        let r = Observed {
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
            ..Observed::default()
        };
        l.observe(p, &r);
        assert!(matches!(l.try_take(key(1)), Wait::Until(_)));
        assert!(matches!(l.try_take(key(2)), Wait::Go));
        let p = l.acquire(key(3)).await;
        l.observe(p, &Observed { global: true, ..r });
        assert!(matches!(l.try_take(key(4)), Wait::Until(_)));
        assert_eq!(l.invalid_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_answers_pause_everything_long_before_the_budget() {
        let options = LimiterOptions {
            invalid_budget: 40,
            invalid_window: Duration::from_secs(60),
            ..LimiterOptions::default()
        };
        let l = Limiter::new(options);
        for i in 0..10 {
            let p = l.acquire(key(i)).await;
            l.observe(
                p,
                &Observed {
                    status: 403,
                    ..Observed::default()
                },
            );
        }
        // 10 = 25% of 40: paused until the first one is a minute old.
        let start = Instant::now();
        drop(l.acquire(key(99)).await);
        assert!(
            start.elapsed() >= Duration::from_secs(59),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn answers_are_read_from_headers_and_body() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        h.insert("x-ratelimit-global", "true".parse().unwrap());
        let body = br#"{"message":"x","retry_after":1.25,"global":true,"code":0}"#;
        let o = Observed::read(StatusCode::TOO_MANY_REQUESTS, &h, body);
        assert_eq!(o.retry_after, Some(Duration::from_millis(1250)));
        assert!(o.global);
        let o = Observed::read(StatusCode::TOO_MANY_REQUESTS, &h, b"error code: 1015");
        assert_eq!(o.retry_after, Some(Duration::from_secs(2)));
    }
}
