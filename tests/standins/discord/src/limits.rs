//! The stand-in's rate limits: fixed-window buckets per (route, top-level ID), a global window,
//! and the invalid-request budget, with Discord's figures as defaults and one scale knob.

use std::time::{Duration, Instant};

/// `limit` requests per `window`, counted from the first request of the window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLimit {
    /// Requests allowed in one window.
    pub limit: u32,
    /// How long a window lasts.
    pub window: Duration,
}

impl BucketLimit {
    /// `limit` requests per `window_ms` milliseconds.
    pub const fn per_ms(limit: u32, window_ms: u64) -> Self {
        Self {
            limit,
            window: Duration::from_millis(window_ms),
        }
    }

    /// The sustained rate this bucket allows, in requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.limit) / self.window.as_secs_f64()
    }
}

/// Every limit the stand-in enforces. [`Limits::discord`] gives Discord's documented or
/// community-reported figures (`discord.md` §2.1, §4.3); [`Limits::scaled`] shortens every window
/// (and the ban) by one factor so tests run faster with the same shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// All requests of the bot: 50 per second.
    pub global: BucketLimit,
    /// `POST /webhooks/{id}/{token}`, per webhook: 5 per 2 s.
    pub webhook_execute: BucketLimit,
    /// `PATCH`/`DELETE /webhooks/{id}/{token}/messages/{m}`, per webhook: 5 per 2 s.
    pub webhook_message: BucketLimit,
    /// `POST /channels/{c}/messages`, per channel: 5 per 5 s.
    pub message_create: BucketLimit,
    /// `GET /channels/{c}/messages[/{m}]`, per channel: 5 per 1 s.
    pub message_read: BucketLimit,
    /// Reactions, per channel: 1 per 250 ms.
    pub reaction: BucketLimit,
    /// `GET /channels/{c}/messages/{m}/reactions/{emoji}` (who reacted), per channel: 1 per
    /// 250 ms. Discord gives this route a bucket of its own in the reaction family and
    /// documents no figure; the reactions' one is assumed, the stricter guess.
    pub reaction_read: BucketLimit,
    /// `PATCH /channels/{c}` (name, topic), per channel: 2 per 10 min.
    pub channel_edit: BucketLimit,
    /// `POST /guilds/{g}/channels`, per guild: 5 per 5 s.
    pub channel_create: BucketLimit,
    /// `GET`/`POST /channels/{c}/webhooks`, per channel: 5 per 5 s.
    pub webhook_manage: BucketLimit,
    /// Every other route, per top-level ID: 10 per 1 s.
    pub other: BucketLimit,
    /// 401, 403 and 429 (except `shared` scope) answers allowed per `invalid_window`: 10,000.
    pub invalid_budget: u32,
    /// The invalid-request window: 10 minutes.
    pub invalid_window: Duration,
    /// How long the "error code: 1015" block lasts once the budget is spent: 1 hour.
    pub ban: Duration,
    /// Whether the `Retry-After` header is rounded up to whole seconds, as Discord does (the
    /// body's `retry_after` always has decimals). Off: the header has decimals too.
    pub whole_second_retry_after: bool,
}

impl Limits {
    /// Discord's figures.
    pub fn discord() -> Self {
        Self {
            global: BucketLimit::per_ms(50, 1_000),
            webhook_execute: BucketLimit::per_ms(5, 2_000),
            webhook_message: BucketLimit::per_ms(5, 2_000),
            message_create: BucketLimit::per_ms(5, 5_000),
            message_read: BucketLimit::per_ms(5, 1_000),
            reaction: BucketLimit::per_ms(1, 250),
            reaction_read: BucketLimit::per_ms(1, 250),
            channel_edit: BucketLimit::per_ms(2, 600_000),
            channel_create: BucketLimit::per_ms(5, 5_000),
            webhook_manage: BucketLimit::per_ms(5, 5_000),
            other: BucketLimit::per_ms(10, 1_000),
            invalid_budget: 10_000,
            invalid_window: Duration::from_secs(600),
            ban: Duration::from_secs(3_600),
            whole_second_retry_after: true,
        }
    }

    /// The same limits with every window, the invalid-request window and the ban multiplied by
    /// `factor` (0.1: ten times faster), and fractional `Retry-After` headers.
    pub fn scaled(mut self, factor: f64) -> Self {
        let f = |d: Duration| d.mul_f64(factor.max(0.0001));
        for b in [
            &mut self.global,
            &mut self.webhook_execute,
            &mut self.webhook_message,
            &mut self.message_create,
            &mut self.message_read,
            &mut self.reaction,
            &mut self.reaction_read,
            &mut self.channel_edit,
            &mut self.channel_create,
            &mut self.webhook_manage,
            &mut self.other,
        ] {
            b.window = f(b.window);
        }
        self.invalid_window = f(self.invalid_window);
        self.ban = f(self.ban);
        self.whole_second_retry_after = false;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::discord()
    }
}

/// One fixed window: it opens at the first request after the previous one closed.
#[derive(Debug, Default)]
pub(crate) struct Window {
    start: Option<Instant>,
    count: u32,
    /// Whether this bucket has answered at least once (for the "429 after the first response"
    /// statistic).
    pub(crate) answered: bool,
}

/// What a bucket says about one request.
pub(crate) enum Take {
    /// Allowed: how many remain in the window and when it resets.
    Allowed {
        remaining: u32,
        reset_after: Duration,
    },
    /// Refused: retry after this long.
    Limited { retry_after: Duration },
}

impl Window {
    pub(crate) fn take(&mut self, limit: BucketLimit, now: Instant) -> Take {
        let start = match self.start {
            Some(s) if now.duration_since(s) < limit.window => s,
            _ => {
                self.start = Some(now);
                self.count = 0;
                now
            }
        };
        let reset_after = limit.window.saturating_sub(now.duration_since(start));
        if self.count >= limit.limit {
            return Take::Limited {
                retry_after: reset_after,
            };
        }
        self.count += 1;
        Take::Allowed {
            remaining: limit.limit - self.count,
            reset_after,
        }
    }
}
