//! The in-memory index of an export: where each message's line is, nothing more.
//!
//! One 24-byte [`Entry`] per message, sorted by (channel, id), channel names interned; a page
//! is a binary search plus one seek and read per message returned.

use std::{collections::HashMap, ops::Range};

use bridge_core::ChatId;
use chrono::{DateTime, Utc};

/// Where one message's line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The message id.
    pub id: u64,
    /// Byte offset of the line.
    pub offset: u64,
    /// Interned channel.
    pub chan: u32,
    /// Line length in bytes (without the end of line).
    pub len: u32,
}

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
#[derive(Debug, Default)]
pub(crate) struct IndexBuilder {
    chans: Vec<Interned>,
    by_name: HashMap<String, u32>,
    entries: Vec<Entry>,
}

/// The finished index, and the entries left out of it.
pub(crate) struct Finished {
    /// The index.
    pub index: Index,
    /// Repeated (channel, id) entries: all but the first in the file.
    pub duplicates: Vec<Entry>,
    /// Entries removed because a delete targets them.
    pub deleted: Vec<Entry>,
}

impl IndexBuilder {
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

    /// Adds message `id` of `chat`, whose line is at `offset`.
    ///
    /// Returns `false` (and adds nothing) only past `u32::MAX` channels.
    pub(crate) fn push(
        &mut self,
        chat: &str,
        id: u64,
        offset: u64,
        len: u32,
        sent_at: DateTime<Utc>,
    ) -> bool {
        let Some(chan) = self.intern(chat) else {
            return false;
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
        });
        true
    }

    /// Sorts, drops repeated (channel, id) entries keeping the first in the file, drops the
    /// `deleted` (channel, id) pairs (sorted), and builds the index.
    pub(crate) fn finish(self, deleted: &[(u32, u64)]) -> Finished {
        let IndexBuilder {
            chans,
            by_name,
            mut entries,
        } = self;
        entries.sort_unstable_by_key(|e| (e.chan, e.id, e.offset));
        let mut duplicates = Vec::new();
        let mut removed = Vec::new();
        let mut kept = 0;
        for i in 0..entries.len() {
            let e = entries[i];
            if kept > 0 && entries[kept - 1].chan == e.chan && entries[kept - 1].id == e.id {
                duplicates.push(e);
            } else if deleted.binary_search(&(e.chan, e.id)).is_ok() {
                removed.push(e);
            } else {
                entries[kept] = e;
                kept += 1;
            }
        }
        entries.truncate(kept);
        entries.shrink_to_fit();
        let mut ranges = Vec::with_capacity(chans.len());
        let mut summaries = Vec::with_capacity(chans.len());
        let mut start = 0;
        for (n, c) in chans.into_iter().enumerate() {
            let end = start + entries[start..].partition_point(|e| e.chan as usize == n);
            let range = start..end;
            let slice = &entries[range.clone()];
            if let (Some(f), Some(l), Some(first), Some(last)) =
                (slice.first(), slice.last(), c.first, c.last)
            {
                summaries.push(ChatSummary {
                    chat: ChatId::new(c.name),
                    messages: slice.len() as u64,
                    first_id: f.id,
                    last_id: l.id,
                    first_sent_at: first,
                    last_sent_at: last,
                });
            }
            ranges.push(range);
            start = end;
        }
        let index = Index {
            summaries,
            by_name,
            ranges,
            entries,
        };
        Finished {
            index,
            duplicates,
            deleted: removed,
        }
    }
}

/// The finished index.
#[derive(Debug, Default)]
pub(crate) struct Index {
    summaries: Vec<ChatSummary>,
    by_name: HashMap<String, u32>,
    ranges: Vec<Range<usize>>,
    entries: Vec<Entry>,
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
            .filter(|&c| !self.of(c).is_empty())
    }

    /// All messages in the index.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Messages of `chan`, sorted by id.
    pub(crate) fn of(&self, chan: u32) -> &[Entry] {
        self.ranges
            .get(chan as usize)
            .and_then(|r| self.entries.get(r.clone()))
            .unwrap_or(&[])
    }

    /// Up to `limit` messages of `chan` with an id above `after`, and whether more follow.
    pub(crate) fn page(&self, chan: u32, after: Option<u64>, limit: usize) -> (&[Entry], bool) {
        let all = self.of(chan);
        let start = after.map_or(0, |after| all.partition_point(|e| e.id <= after));
        let rest = &all[start..];
        let end = rest.len().min(limit);
        (&rest[..end], end < rest.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_dedups_deletes_and_pages() {
        let t = DateTime::from_timestamp(0, 0).unwrap();
        let mut b = IndexBuilder::default();
        let lines = [
            ("a", 3, 0),
            ("a", 2, 10),
            ("b", 9, 20),
            ("a", 1, 30),
            ("a", 3, 40),
            ("c", 1, 50),
        ];
        for (chat, id, offset) in lines {
            assert!(b.push(chat, id, offset, 5, t));
        }
        assert_eq!(b.intern("d"), Some(3));
        let Finished {
            index,
            duplicates,
            deleted,
        } = b.finish(&[(2, 1)]);
        let entry = |id, offset, chan| Entry {
            id,
            offset,
            chan,
            len: 5,
        };
        assert_eq!(
            (duplicates, deleted),
            (vec![entry(3, 40, 0)], vec![entry(1, 50, 2)])
        );
        assert_eq!(index.len(), 4);
        let a = index.chan("a").unwrap();
        let ids = |s: &[Entry]| s.iter().map(|e| e.id).collect::<Vec<_>>();
        let (p, more) = index.page(a, None, 2);
        assert_eq!((ids(p), more), (vec![1, 2], true));
        let (p, more) = index.page(a, Some(2), 2);
        assert_eq!((ids(p), more, p[0].offset), (vec![3], false, 0));
        assert_eq!(
            index.summaries().len(),
            2,
            "chats without messages are not listed"
        );
        assert_eq!(index.summaries()[1].messages, 1);
        assert!(
            index.chan("c").is_none() && index.chan("d").is_none() && index.chan("e").is_none()
        );
    }
}
