//! The per-sink message pacer: a `governor` rate limiter that waits on tokio's clock.
//!
//! governor's own `until_ready` sleeps on a real-time timer, which a paused tokio clock in tests
//! cannot drive; here the limiter reads tokio's clock and the wait is a `tokio::time::sleep`, so
//! pacing is exact under `start_paused` and unchanged in production.

use std::{num::NonZeroU32, time::Duration};

use governor::{
    Quota, RateLimiter,
    clock::Clock,
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed},
};

/// A sink's message rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Messages per second, sustained.
    pub per_second: f64,
    /// How many may go at once after a quiet spell.
    pub burst: u32,
}

/// governor's clock, read from tokio's (pausable) time.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Paces sends to one target platform; shared by every link that writes there.
#[derive(Debug)]
pub struct Pacer {
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>,
}

impl Pacer {
    /// A pacer letting `rate.per_second` messages through per second, `rate.burst` at once.
    pub fn new(rate: Rate) -> Self {
        // A rate too small or not finite degrades to one message per hour rather than failing:
        // config validation rejects such values before they get here.
        const SLOWEST: Duration = Duration::from_secs(3600);
        let period = if rate.per_second > 0.0 {
            Duration::try_from_secs_f64(1.0 / rate.per_second)
                .unwrap_or(SLOWEST)
                .clamp(Duration::from_nanos(1), SLOWEST)
        } else {
            SLOWEST
        };
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock),
        }
    }

    /// Waits until one more message may go. Cancellation-safe: dropping the wait takes nothing.
    pub async fn ready(&self) {
        loop {
            match self.limiter.check() {
                Ok(()) => return,
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_configured_rate_after_the_burst() {
        let pacer = Pacer::new(Rate {
            per_second: 10.0,
            burst: 5,
        });
        let start = tokio::time::Instant::now();
        for _ in 0..25 {
            pacer.ready().await;
        }
        // 5 go at once, the other 20 at 10/s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2010), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_rates_degrade_instead_of_panicking() {
        for per_second in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
            let pacer = Pacer::new(Rate {
                per_second,
                burst: 1,
            });
            pacer.ready().await;
        }
    }
}
