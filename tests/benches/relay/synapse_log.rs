//! Synapse's own account of the sends, from its access log: when it finished each request and
//! how long it took over it (`Processed request: 0.088sec/…`), so the time a relayed message
//! spends inside Synapse can be told from the time it spends in kbbridge. Also its process ID,
//! for its CPU time.
//!
//! The log's times are local time at millisecond precision (Python's logging), read back here
//! as local time.

use std::{fs, path::PathBuf};

use adapter_matrix::testing::pushing::pushing;
use chrono::{Local, NaiveDateTime, TimeZone};

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

/// One `PUT …/send/m.room.message/{txn}` as Synapse logged it.
pub struct Send {
    /// The transaction ID, as in the request's path.
    pub txn: String,
    /// When Synapse began it (µs): when it finished, less how long it took.
    pub start: u64,
    /// When Synapse finished it (µs).
    pub end: u64,
}

impl Send {
    /// How long Synapse took over it (µs).
    pub fn took(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The message sends Synapse finished after `from` (a [`mark`]).
pub fn sends_since(from: usize) -> Vec<Send> {
    sends_after(from).0
}

/// The message sends in the whole lines Synapse logged after `from`, and where those lines
/// end (a line being written is left for the next read).
pub fn sends_after(from: usize) -> (Vec<Send>, usize) {
    let log = fs::read(path()).unwrap_or_default();
    let new = log.get(from..).unwrap_or_default();
    let whole = new.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&new[..whole]);
    (text.lines().filter_map(send).collect(), from + whole)
}

/// The send a log line tells of, if it tells of one.
fn send(line: &str) -> Option<Send> {
    const SEND: &str = "/send/m.room.message/";
    const TOOK: &str = "Processed request: ";
    if !line.contains("\"PUT /_matrix/client/v3/rooms/") {
        return None;
    }
    let txn = &line[line.find(SEND)? + SEND.len()..];
    let txn = &txn[..txn.find(['?', ' '])?];
    let took = &line[line.find(TOOK)? + TOOK.len()..];
    let secs: f64 = took[..took.find("sec")?].parse().ok()?;
    // `2026-12-06 11:31:25,999 - …`
    let at = NaiveDateTime::parse_from_str(line.get(..23)?, "%Y-%m-%d %H:%M:%S,%3f").ok()?;
    let end = Local.from_local_datetime(&at).single()?.timestamp_micros();
    let end = u64::try_from(end).ok()?;
    Some(Send {
        txn: txn.to_owned(),
        start: end.saturating_sub((secs * 1e6) as u64),
        end,
    })
}
