//! The clock every timed step is stamped with, and the tags that name the timed messages.
//!
//! Two processes stamp (this benchmark and its api-listen tee, `tee.rs`), so the clock is the
//! system's wall clock in microseconds rather than a process's own `Instant`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What every tag starts with.
const MARK: &str = "lat-";

/// The tag of message `n` of `kind` (`r` relayed, `d` direct, `o` direct in order, `w` warm-up,
/// `m` the idle part's few).
pub fn tag(kind: char, n: usize) -> String {
    format!("{MARK}{kind}{n:06}")
}

/// The kind of message `tag` stands for (the `kind` it was made with).
pub fn kind_of(tag: &str) -> Option<char> {
    tag.strip_prefix(MARK)?.chars().next()
}

/// The first tag in `text`, if any.
pub fn tag_in(text: &str) -> Option<&str> {
    let start = text.find(MARK)?;
    let rest = &text[start..];
    let end = rest[MARK.len()..]
        .find(|c: char| !c.is_ascii_alphanumeric())
        .map_or(rest.len(), |e| e + MARK.len());
    Some(&rest[..end])
}
