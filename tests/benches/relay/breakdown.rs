//! Where each relayed message's time went between kbbridge's api-listen line and its landing
//! on Matrix, told apart with Synapse's log of kbbridge's sends: waiting behind the earlier
//! messages of its chat (kbbridge sends a chat's messages one at a time), kbbridge's own work
//! before its send, and Synapse over the send.

use std::collections::HashMap;

use super::{posting::Posted, synapse_log::Send};

/// The parts of each relayed message's line → Matrix (µs).
#[derive(Default)]
pub struct Breakdown {
    /// Its line → the end of the send of the message before it in its chat, when later.
    pub waiting: Vec<u64>,
    /// Its line (or the end of that send) → its send starts in Synapse: kbbridge's own work
    /// (its store, building the request, the connection), and the previous message's last
    /// steps after its send.
    pub kbbridge: Vec<u64>,
    /// Synapse over its send.
    pub synapse: Vec<u64>,
}

impl Breakdown {
    /// The breakdown of the `relayed` messages, with the api-listen `lines` and Synapse's
    /// `sends`; messages missing a part are left out.
    pub fn of(relayed: &[Posted], lines: &HashMap<String, u64>, sends: &[Send]) -> Self {
        let sends: HashMap<&str, &Send> = sends.iter().map(|s| (s.txn.as_str(), s)).collect();
        let mut found: Vec<(usize, u64, u64, &Send)> = relayed
            .iter()
            .filter_map(|p| {
                let send = sends.get(p.txn.as_deref()?)?;
                Some((p.channel, p.id?, *lines.get(&p.tag)?, *send))
            })
            .collect();
        found.sort_by_key(|&(channel, id, ..)| (channel, id));
        let mut out = Self::default();
        let mut before: Option<(usize, u64)> = None;
        for (channel, _, line, send) in found {
            let free = match before {
                Some((c, end)) if c == channel => end,
                _ => 0,
            };
            out.waiting.push(free.saturating_sub(line));
            out.kbbridge.push(send.start.saturating_sub(line.max(free)));
            out.synapse.push(send.took());
            before = Some((channel, send.end));
        }
        out
    }
}
