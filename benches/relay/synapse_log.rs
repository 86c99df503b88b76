//! Synapse's own account of the sends (and its process ID, for its CPU time): its access log says how long it took over each request
//! (`Processed request: 0.088sec/…`), so the time a relayed message spends inside Synapse can be
//! told from the time it spends in kbbridge.

use std::{fs, path::PathBuf};

use adapter_matrix::testing::pushing::pushing;

/// The pushing Synapse's log.
fn path() -> PathBuf {
    pushing().synapse.dir.join("synapse.log")
}

/// Synapse's process ID (0 when unknown).
pub fn pid() -> u32 {
    fs::read_to_string(pushing().synapse.dir.join("synapse.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// The log's length now: where a phase's requests start.
pub fn mark() -> usize {
    fs::metadata(path()).map_or(0, |m| usize::try_from(m.len()).unwrap_or(0))
}

/// How long Synapse took over each `PUT …/send/m.room.message/…` it finished after `from` (µs).
pub fn sends_since(from: usize) -> Vec<u64> {
    let log = fs::read(path()).unwrap_or_default();
    let text = String::from_utf8_lossy(log.get(from..).unwrap_or_default());
    text.lines()
        .filter(|l| {
            l.contains("\"PUT /_matrix/client/v3/rooms/") && l.contains("/send/m.room.message/")
        })
        .filter_map(|l| {
            let rest = &l[l.find("Processed request: ")? + "Processed request: ".len()..];
            let secs: f64 = rest[..rest.find("sec")?].parse().ok()?;
            Some((secs * 1e6) as u64)
        })
        .collect()
}
