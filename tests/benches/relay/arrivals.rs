//! When each message landed on Matrix: the end of its send in Synapse's access log. Synapse
//! answers a send once the event is persisted, and from then on every client's `/sync` and
//! `/messages` serve it, so this is its arrival, to the log's millisecond, for relayed and
//! direct messages alike (each is found by its transaction ID).
//!
//! A syncing client is not used to stamp arrivals: at these rates each `/sync` answer costs
//! Synapse about as much CPU as a send (its CPU per message went from about 27 ms without one
//! to 43 ms with one at 20 messages/s in trial runs), so it would slow down the very thing
//! measured. Whether every message really is in its room is read back once, after the timing
//! ([`Arrivals::missing`]).

use std::collections::{HashMap, HashSet};

use adapter_matrix::testing::ReadBack;

use super::{stamp::tag_in, synapse_log};

/// Sends Synapse finished, by transaction ID (µs), read from its log as it grows.
pub struct Arrivals {
    read_to: usize,
    at: HashMap<String, u64>,
}

impl Arrivals {
    /// Reads the sends Synapse logs from now on.
    pub fn start() -> Self {
        Self {
            read_to: synapse_log::mark(),
            at: HashMap::new(),
        }
    }

    /// Reads what Synapse logged since the last call.
    pub fn refresh(&mut self) {
        let (sends, to) = synapse_log::sends_after(self.read_to);
        self.read_to = to;
        for send in sends {
            self.at.entry(send.txn).or_insert(send.end);
        }
    }

    /// When Synapse finished the send of `txn`, if it has.
    pub fn arrival(&self, txn: &str) -> Option<u64> {
        self.at.get(txn).copied()
    }

    /// How many of `txns` Synapse has finished.
    pub fn count(&self, txns: &[String]) -> usize {
        txns.iter().filter(|t| self.at.contains_key(*t)).count()
    }

    /// Of `tags`, those not among the messages of `rooms` as `reader` reads them back.
    pub async fn missing(reader: &ReadBack, rooms: &[String], tags: &[String]) -> Vec<String> {
        let mut present = HashSet::new();
        for room in rooms {
            let events = match reader.messages(room).await {
                Ok(events) => events,
                Err(e) => {
                    eprintln!("relay bench: cannot read back {room}: {e}");
                    continue;
                }
            };
            for event in &events {
                if let Some(tag) = event["content"]["body"].as_str().and_then(tag_in) {
                    present.insert(tag.to_owned());
                }
            }
        }
        tags.iter()
            .filter(|t| !present.contains(*t))
            .cloned()
            .collect()
    }
}
