//! The retry policy by error class, on `backon`.
//!
//! - `RateLimited`: wait exactly the `retry_after` the target asked for, then retry.
//! - `Transient`: exponential backoff with jitter, up to `max_attempts`.
//! - anything else: no retry; the caller decides (record a rejection, stop the link).

use std::{future::Future, time::Duration};

use backon::{ExponentialBuilder, Retryable};

use crate::adapter::AdapterError;

/// How hard to retry a failing request.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before a retryable error is given up on.
    pub max_attempts: usize,
    /// The first backoff delay after a transient error.
    pub min_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .with_jitter()
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of attempts; `on_retry` is
    /// told of each retry (for logs and counters) with the error and the delay before it.
    ///
    /// # Errors
    /// The last error: a non-retryable one at once, a retryable one once attempts run out.
    pub async fn run<T, F, Fut>(
        &self,
        op: F,
        mut on_retry: impl FnMut(&AdapterError, Duration),
    ) -> Result<T, AdapterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        op.retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(AdapterError::is_retryable)
            .adjust(|e, backoff| match e {
                // The target's own figure beats our guess, even past the exponential cap.
                AdapterError::RateLimited { retry_after } => Some(*retry_after),
                _ => backoff,
            })
            .notify(|e, d| on_retry(e, d))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limited_waits_exactly_retry_after() {
        let calls = AtomicUsize::new(0);
        let start = tokio::time::Instant::now();
        let policy = RetryPolicy::default();
        let mut delays = Vec::new();
        let out = policy
            .run(
                || async {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(AdapterError::RateLimited {
                            retry_after: Duration::from_secs(7),
                        })
                    } else {
                        Ok(42)
                    }
                },
                |_, d| delays.push(d),
            )
            .await
            .unwrap();
        assert_eq!(out, 42);
        assert_eq!(delays, vec![Duration::from_secs(7)]);
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_gives_up_after_max_attempts() {
        let calls = AtomicUsize::new(0);
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let err = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(AdapterError::transient("503"))
                },
                |_, _| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::Transient(_)));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_failing_together_do_not_retry_in_step() {
        let delays = || async {
            let mut delays = Vec::new();
            let _ = RetryPolicy {
                max_attempts: 4,
                ..RetryPolicy::default()
            }
            .run(
                || async { Err::<(), _>(AdapterError::transient("connection reset")) },
                |_, d| delays.push(d),
            )
            .await;
            delays
        };
        let (a, b) = (delays().await, delays().await);
        assert_eq!(a.len(), 3);
        assert_ne!(a, b, "the jitter differs from one run to the next");
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_is_not_retried() {
        let calls = AtomicUsize::new(0);
        let err = RetryPolicy::default()
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(AdapterError::rejected("too large"))
                },
                |_, _| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AdapterError::Rejected { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
