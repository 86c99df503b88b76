//! Fault injection: scripted faults for the next requests, and a seeded random "chaos" mode.

use std::time::Duration;

/// A fault the stand-in can inject into one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this 5xx status (a JSON body with `code: 0`), without handling the request.
    ServerError(u16),
    /// Close the connection without an answer, without handling the request.
    Drop,
    /// Handle the request (a message is created and recorded), then close the connection
    /// without an answer: the ambiguous case that exactly-once delivery must survive.
    DropAfterCommit,
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer 429 without handling the request.
    RateLimit {
        /// A global 429 (`X-RateLimit-Global: true`, `global: true`).
        global: bool,
        /// Whether the `Retry-After` header is sent (the body always has `retry_after`).
        header: bool,
        /// The retry-after given.
        retry_after: Duration,
    },
}

/// Which requests a scripted fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    /// Any request under `/api/v10`.
    Any,
    /// Webhook executes only (`POST /webhooks/{id}/{token}`).
    WebhookExecute,
    /// Channel message reads only (`GET /channels/{c}/messages`).
    MessageRead,
}

/// Random faults on webhook executes, drawn from a seeded generator (reproducible runs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chaos {
    /// Seed of the generator.
    pub seed: u64,
    /// Probability of a 5xx answer (500, 502 or 503).
    pub server_error: f64,
    /// Probability of a dropped connection before handling.
    pub drop: f64,
    /// Probability of a dropped connection after the message was created.
    pub drop_after_commit: f64,
    /// Probability of an injected 429 (route scope, with a `Retry-After` header).
    pub rate_limit: f64,
    /// The retry-after of injected 429s.
    pub retry_after: Duration,
}

/// A fault on every `n`th request of a kind, the faults taken in turn.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Every {
    pub(crate) n: u32,
    pub(crate) target: FaultTarget,
    pub(crate) faults: Vec<Fault>,
    /// Requests of the kind seen so far.
    pub(crate) seen: u64,
    /// Faults injected so far (which one is next).
    pub(crate) injected: usize,
}

/// Scripted, periodic and random faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) scripted: Vec<(Fault, FaultTarget, u32)>,
    pub(crate) every: Option<Every>,
    pub(crate) chaos: Option<(Chaos, u64)>,
}

impl Faults {
    /// The fault for a request of kind `target` (`is_execute`, `is_message_read`), if any.
    pub(crate) fn next(&mut self, is_execute: bool, is_message_read: bool) -> Option<Fault> {
        let applies = |t: FaultTarget| match t {
            FaultTarget::Any => true,
            FaultTarget::WebhookExecute => is_execute,
            FaultTarget::MessageRead => is_message_read,
        };
        if let Some(i) = self
            .scripted
            .iter()
            .position(|(_, t, n)| *n > 0 && applies(*t))
        {
            let (fault, _, n) = &mut self.scripted[i];
            *n -= 1;
            let fault = *fault;
            self.scripted.retain(|(_, _, n)| *n > 0);
            return Some(fault);
        }
        if let Some(e) = self.every.as_mut().filter(|e| applies(e.target)) {
            e.seen += 1;
            if e.n > 0 && e.seen % u64::from(e.n) == 0 && !e.faults.is_empty() {
                let fault = e.faults[e.injected % e.faults.len()];
                e.injected += 1;
                return Some(fault);
            }
        }
        let (chaos, state) = self.chaos.as_mut()?;
        if !is_execute {
            return None;
        }
        let r = next_unit(state);
        let mut edge = chaos.server_error;
        if r < edge {
            let codes = [500, 502, 503];
            let pick = (next_unit(state) * 3.0) as usize;
            return Some(Fault::ServerError(codes[pick.min(2)]));
        }
        edge += chaos.drop;
        if r < edge {
            return Some(Fault::Drop);
        }
        edge += chaos.drop_after_commit;
        if r < edge {
            return Some(Fault::DropAfterCommit);
        }
        edge += chaos.rate_limit;
        if r < edge {
            return Some(Fault::RateLimit {
                global: false,
                header: true,
                retry_after: chaos.retry_after,
            });
        }
        None
    }
}

/// xorshift64*: a uniform number in [0, 1).
fn next_unit(state: &mut u64) -> f64 {
    let mut x = (*state).max(1);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}
