//! The index of an export: where each message's record is, nothing more.
//!
//! One 24-byte [`Entry`] per message, sorted by (channel, id), channel names interned. Up to
//! [`MEMORY_ENTRIES`] entries stay in memory; beyond that they go to a temporary file
//! (`export/spill.rs`), so memory stays flat however big the export is. A page is a binary
//! search plus one read of its entries, then one seek and read per message returned.

use std::{collections::HashMap, io};

use bridge_core::ChatId;
use chrono::{DateTime, Utc};

use super::spill::{Collector, Fixed, Stored, u32_at, u64_at};

/// Where one message's record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The message id.
    pub id: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// Interned channel.
    pub chan: u32,
    /// Record length in bytes (without the end of line).
    pub len: u32,
}

impl Fixed for Entry {
    const BYTES: usize = 24;
    /// Channel, id, then position (the first record of a repeated id wins).
    type Key = (u32, u64, u64);

    fn key(&self) -> Self::Key {
        (self.chan, self.id, self.offset)
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..20].copy_from_slice(&self.chan.to_le_bytes());
        out[20..24].copy_from_slice(&self.len.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            id: u64_at(b, 0),
            offset: u64_at(b, 8),
            chan: u32_at(b, 16),
            len: u32_at(b, 20),
        }
    }
}

/// Entries kept in memory before they are spilled to a temporary file (3 MiB).
pub(crate) const MEMORY_ENTRIES: usize = 1 << 17;

/// One chat of an export, for `kbbridge plan` and `inspect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatSummary {
    /// The chat: `team#channel` or `alice,bob`.
    pub chat: ChatId,
    /// Messages to replay (notices included).
    pub messages: u64,
    /// The oldest message id.
    pub first_id: u64,
    /// The newest message id.
    pub last_id: u64,
    /// When the oldest message was sent.
    pub first_sent_at: DateTime<Utc>,
    /// When the newest message was sent.
    pub last_sent_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Interned {
    name: String,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

/// Collects entries during the scan.
#[derive(Debug)]
pub(crate) struct IndexBuilder {
    chans: Vec<Interned>,
    by_name: HashMap<String, u32>,
    entries: Collector<Entry>,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        Self::with_memory(MEMORY_ENTRIES)
    }
}

/// Why [`IndexBuilder::finish`] leaves an entry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeftOut {
    /// A repeated (channel, id): all but the first in the file are left out.
    Duplicate,
    /// A delete targets it.
    Deleted,
}

impl IndexBuilder {
    /// A builder keeping at most `entries` entries in memory.
    pub(crate) fn with_memory(entries: usize) -> Self {
        Self {
            chans: Vec::new(),
            by_name: HashMap::new(),
            entries: Collector::new(entries),
        }
    }

    /// The number of `chat`, interned now if new; `None` past `u32::MAX` channels.
    pub(crate) fn intern(&mut self, chat: &str) -> Option<u32> {
        if let Some(&chan) = self.by_name.get(chat) {
            return Some(chan);
        }
        let chan = u32::try_from(self.chans.len()).ok()?;
        self.chans.push(Interned {
            name: chat.to_owned(),
            first: None,
            last: None,
        });
        self.by_name.insert(chat.to_owned(), chan);
        Some(chan)
    }

    /// Adds message `id` of `chat`, whose record is at `offset`.
    ///
    /// Returns `Ok(false)` (and adds nothing) only past `u32::MAX` channels.
    pub(crate) fn push(
        &mut self,
        chat: &str,
        id: u64,
        offset: u64,
        len: u32,
        sent_at: DateTime<Utc>,
    ) -> io::Result<bool> {
        let Some(chan) = self.intern(chat) else {
            return Ok(false);
        };
        if let Some(c) = self.chans.get_mut(chan as usize) {
            c.first = Some(c.first.map_or(sent_at, |t| t.min(sent_at)));
            c.last = Some(c.last.map_or(sent_at, |t| t.max(sent_at)));
        }
        self.entries.push(Entry {
            id,
            offset,
            chan,
            len,
        })?;
        Ok(true)
    }

    /// Sorts, leaves out repeated (channel, id) entries (keeping the first in the file) and the
    /// deleted ones (`is_deleted` is asked about each (channel, id) in increasing order),
    /// telling `left_out` about each, and builds the index.
    pub(crate) fn finish(
        self,
        mut is_deleted: impl FnMut(u32, u64) -> io::Result<bool>,
        mut left_out: impl FnMut(&Entry, LeftOut) -> io::Result<()>,
    ) -> io::Result<Index> {
        let IndexBuilder {
            chans,
            by_name,
            entries,
        } = self;
        let mut counts = vec![(0u64, 0u64, 0u64); chans.len()];
        let mut previous: Option<(u32, u64)> = None;
        let (stored, len) = entries.finish(|e| {
            let key = (e.chan, e.id);
            if previous == Some(key) {
                left_out(e, LeftOut::Duplicate)?;
                return Ok(false);
            }
            previous = Some(key);
            if is_deleted(e.chan, e.id)? {
                left_out(e, LeftOut::Deleted)?;
                return Ok(false);
            }
            if let Some(c) = counts.get_mut(e.chan as usize) {
                if c.0 == 0 {
                    c.1 = e.id;
                }
                c.0 += 1;
                c.2 = e.id;
            }
            Ok(true)
        })?;
        let mut ranges = Vec::with_capacity(chans.len());
        let mut summaries = Vec::with_capacity(chans.len());
        let mut start = 0;
        for (c, (n, first_id, last_id)) in chans.into_iter().zip(counts) {
            ranges.push((start, n));
            start += n;
            if let (true, Some(first), Some(last)) = (n > 0, c.first, c.last) {
                summaries.push(ChatSummary {
                    chat: ChatId::new(c.name),
                    messages: n,
                    first_id,
                    last_id,
                    first_sent_at: first,
                    last_sent_at: last,
                });
            }
        }
        Ok(Index {
            summaries,
            by_name,
            ranges,
            stored,
            len,
        })
    }
}

/// The finished index.
#[derive(Debug, Default)]
pub(crate) struct Index {
    summaries: Vec<ChatSummary>,
    by_name: HashMap<String, u32>,
    /// Per channel: (first entry, entries).
    ranges: Vec<(u64, u64)>,
    stored: Stored<Entry>,
    len: u64,
}

impl Index {
    /// The chats, in the order they first appear in the file.
    pub(crate) fn summaries(&self) -> &[ChatSummary] {
        &self.summaries
    }

    /// The interned channel of `chat`, if it has messages.
    pub(crate) fn chan(&self, chat: &str) -> Option<u32> {
        self.by_name
            .get(chat)
            .copied()
            .filter(|&c| self.count(c) > 0)
    }

    /// All messages in the index.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// How many messages `chan` has.
    pub(crate) fn count(&self, chan: u32) -> u64 {
        self.ranges.get(chan as usize).map_or(0, |r| r.1)
    }

    /// Up to `limit` messages of `chan` with an id above `after`, and whether more follow.
    pub(crate) fn page(
        &self,
        chan: u32,
        after: Option<u64>,
        limit: usize,
    ) -> io::Result<(Vec<Entry>, bool)> {
        let Some(&(start, n)) = self.ranges.get(chan as usize) else {
            return Ok((Vec::new(), false));
        };
        // The first entry with an id above `after` (binary search over the stored entries).
        let (mut lo, mut hi) = (0, n);
        if let Some(after) = after {
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let e = self.stored.range(start + mid, 1)?;
                if e.first().is_some_and(|e| e.id <= after) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
        }
        let rest = n - lo;
        let take = rest.min(limit as u64);
        let entries = self.stored.range(start + lo, take as usize)?;
        Ok((entries, take < rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_dedups_deletes_and_pages_in_memory_and_on_disk() {
        for memory in [MEMORY_ENTRIES, 2] {
            let t = DateTime::from_timestamp(0, 0).unwrap();
            let mut b = IndexBuilder::with_memory(memory);
            let lines = [
                ("a", 3, 0),
                ("a", 2, 10),
                ("b", 9, 20),
                ("a", 1, 30),
                ("a", 3, 40),
                ("c", 1, 50),
            ];
            for (chat, id, offset) in lines {
                assert!(b.push(chat, id, offset, 5, t).unwrap());
            }
            assert_eq!(b.intern("d"), Some(3));
            let mut left = Vec::new();
            let index = b
                .finish(
                    |chan, id| Ok((chan, id) == (2, 1)),
                    |e, why| {
                        left.push((e.id, e.offset, e.chan, why));
                        Ok(())
                    },
                )
                .unwrap();
            assert_eq!(
                left,
                [(3, 40, 0, LeftOut::Duplicate), (1, 50, 2, LeftOut::Deleted)]
            );
            assert_eq!(index.len(), 4);
            let a = index.chan("a").unwrap();
            let ids = |s: &[Entry]| s.iter().map(|e| e.id).collect::<Vec<_>>();
            let (p, more) = index.page(a, None, 2).unwrap();
            assert_eq!((ids(&p), more), (vec![1, 2], true));
            let (p, more) = index.page(a, Some(2), 2).unwrap();
            assert_eq!((ids(&p), more, p[0].offset), (vec![3], false, 0));
            let (p, more) = index.page(a, Some(3), 2).unwrap();
            assert!(p.is_empty() && !more);
            assert_eq!(
                index.summaries().len(),
                2,
                "chats without messages are not listed"
            );
            assert_eq!(
                (index.summaries()[0].first_id, index.summaries()[0].last_id),
                (1, 3)
            );
            assert_eq!(index.summaries()[1].messages, 1);
            assert!(
                index.chan("c").is_none() && index.chan("d").is_none() && index.chan("e").is_none()
            );
        }
    }
}
