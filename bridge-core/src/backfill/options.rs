//! How backfills run: parallelism, page size, pace per platform, retries.

use std::{collections::BTreeMap, time::Duration};

use crate::{ids::Platform, pacer::Rate, retry::RetryPolicy};

/// How backfills run.
#[derive(Clone, Debug, PartialEq)]
pub struct BackfillOptions {
    /// How many jobs (source chat → target chat) run at the same time; each stays in order.
    pub parallel_links: usize,
    /// Messages read from the source per page (the cursor is saved after each page).
    pub page_size: usize,
    /// The pace per target platform; a platform without an entry is paced only by its own
    /// rate-limit answers.
    pub rates: BTreeMap<Platform, Rate>,
    /// How failed sends are retried.
    pub retry: RetryPolicy,
    /// How long a link's lease lasts without renewal: a process that dies holding a link
    /// (SIGKILL, power cut) is taken over after at most this long.
    pub lease_ttl: Duration,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        Self {
            parallel_links: 4,
            page_size: 100,
            rates: BTreeMap::new(),
            retry: RetryPolicy::default(),
            lease_ttl: Duration::from_secs(30),
        }
    }
}
