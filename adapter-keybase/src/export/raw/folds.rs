//! Edit, delete and reaction messages of raw dumps, applied to their targets.
//!
//! `read` already folds edits into the target's body, aggregates reactions and drops deleted
//! messages, but it still lists the edit/delete/reaction messages themselves (and dumps made
//! otherwise may not be folded at all). So: a target with an edit is marked edited and gets the
//! latest edit's body (the same text when already folded); a target without aggregated
//! reactions gets those of its reaction messages; deletes remove their targets (in either order)
//! and un-reactions (a delete of a reaction message). Only where each edit and reaction message
//! is and which ids are deleted are kept, sorted and spilled to temporary files past a few
//! megabytes like the index (`export/spill.rs`); the edit and reaction records are read back
//! when their target's page is read.

use std::{
    io::{self, Read, Seek, SeekFrom},
    path::Path,
};

use super::msg::{RawParsed, parse_wrapper};
use crate::{
    error::KeybaseError,
    export::{
        line::Record,
        node::Node,
        spill::{Collector, Fixed, Stored, u32_at, u64_at},
    },
};

/// Where an edit or reaction message is, and what it targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FoldRef {
    /// The interned channel.
    pub chan: u32,
    /// The message it applies to.
    pub target: u64,
    /// Its own id.
    pub id: u64,
    /// Byte offset of its wrapper.
    pub offset: u64,
    /// Length of its wrapper.
    pub len: u32,
}

impl Fixed for FoldRef {
    const BYTES: usize = 32;
    /// By target, then by its own id (the latest edit last), then position.
    type Key = (u32, u64, u64, u64);

    fn key(&self) -> Self::Key {
        (self.chan, self.target, self.id, self.offset)
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.chan.to_le_bytes());
        out[4..12].copy_from_slice(&self.target.to_le_bytes());
        out[12..20].copy_from_slice(&self.id.to_le_bytes());
        out[20..28].copy_from_slice(&self.offset.to_le_bytes());
        out[28..32].copy_from_slice(&self.len.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            chan: u32_at(b, 0),
            target: u64_at(b, 4),
            id: u64_at(b, 12),
            offset: u64_at(b, 20),
            len: u32_at(b, 28),
        }
    }
}

/// A deleted message: (channel, id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gone {
    chan: u32,
    id: u64,
}

impl Fixed for Gone {
    const BYTES: usize = 12;
    type Key = (u32, u64);

    fn key(&self) -> Self::Key {
        (self.chan, self.id)
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.chan.to_le_bytes());
        out[4..12].copy_from_slice(&self.id.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            chan: u32_at(b, 0),
            id: u64_at(b, 4),
        }
    }
}

/// The edit, reaction and delete messages met during the scan.
#[derive(Debug)]
pub(crate) struct FoldsBuilder {
    edits: Collector<FoldRef>,
    reactions: Collector<FoldRef>,
    deleted: Collector<Gone>,
}

impl FoldsBuilder {
    /// A builder keeping at most `records` of each kind in memory.
    pub(crate) fn with_memory(records: usize) -> Self {
        Self {
            edits: Collector::new(records),
            reactions: Collector::new(records),
            deleted: Collector::new(records),
        }
    }

    /// Records an edit message.
    pub(crate) fn edit(&mut self, at: FoldRef) -> io::Result<()> {
        self.edits.push(at)
    }

    /// Records a reaction message.
    pub(crate) fn reaction(&mut self, at: FoldRef) -> io::Result<()> {
        self.reactions.push(at)
    }

    /// Records that message `id` of `chan` was deleted.
    pub(crate) fn delete(&mut self, chan: u32, id: u64) -> io::Result<()> {
        self.deleted.push(Gone { chan, id })
    }

    /// Sorts everything (the deleted ids once each).
    pub(crate) fn finish(self) -> io::Result<Folds> {
        let (edits, _) = self.edits.finish(|_| Ok(true))?;
        let (reactions, _) = self.reactions.finish(|_| Ok(true))?;
        let mut previous = None;
        let (deleted, _) = self.deleted.finish(|g| {
            let new = previous != Some(g.key());
            previous = Some(g.key());
            Ok(new)
        })?;
        Ok(Folds {
            edits,
            reactions,
            deleted,
        })
    }
}

/// The edit, reaction and delete messages of the raw dumps, sorted.
#[derive(Debug, Default)]
pub(crate) struct Folds {
    edits: Stored<FoldRef>,
    reactions: Stored<FoldRef>,
    deleted: Stored<Gone>,
}

impl Folds {
    /// Asks, for (channel, id) pairs in increasing order, whether each was deleted.
    pub(crate) fn deleted_in_order(&self) -> impl FnMut(u32, u64) -> io::Result<bool> + '_ {
        let mut cursor = self.deleted.cursor();
        move |chan, id| cursor.seek_has((chan, id))
    }

    /// The edits and reactions of `chan`'s messages `first..=last` (a page), without those
    /// that were deleted themselves (an un-reaction deletes its reaction message).
    pub(crate) fn page(&self, chan: u32, first: u64, last: u64) -> io::Result<PageFolds> {
        let range = |stored: &Stored<FoldRef>| -> io::Result<Vec<FoldRef>> {
            let from = (chan, first, 0, 0);
            let to = match last.checked_add(1) {
                Some(next) => (chan, next, 0, 0),
                None => (chan, u64::MAX, u64::MAX, u64::MAX),
            };
            let mut found = stored.between(from, to)?;
            let mut alive = Vec::with_capacity(found.len());
            for f in found.drain(..) {
                if !self.deleted.contains((f.chan, f.id))? {
                    alive.push(f);
                }
            }
            Ok(alive)
        };
        if self.edits.len() + self.reactions.len() == 0 {
            return Ok(PageFolds::default());
        }
        Ok(PageFolds {
            edits: range(&self.edits)?,
            reactions: range(&self.reactions)?,
        })
    }
}

/// The folds of one page, sorted by (target, id).
#[derive(Debug, Default)]
pub(crate) struct PageFolds {
    edits: Vec<FoldRef>,
    reactions: Vec<FoldRef>,
}

impl PageFolds {
    fn of(list: &[FoldRef], target: u64) -> &[FoldRef] {
        let start = list.partition_point(|f| f.target < target);
        let len = list[start..].partition_point(|f| f.target == target);
        &list[start..start + len]
    }

    /// Applies the edits and reaction messages of `rec` (a message of the page), reading
    /// them from `file`.
    pub(crate) fn apply(
        &self,
        rec: &mut Record,
        file: &mut (impl Read + Seek),
        path: &Path,
    ) -> Result<(), KeybaseError> {
        if let Some(latest) = Self::of(&self.edits, rec.id).last() {
            match read(file, path, latest)? {
                RawParsed::Edit { body, .. } => {
                    rec.text = body;
                    rec.edited = true;
                }
                _ => return Err(changed(path, latest)),
            }
        }
        let reactions = Self::of(&self.reactions, rec.id);
        if rec.reactions.is_none() && !reactions.is_empty() {
            let mut by_emoji: Vec<(String, Vec<(String, Node)>)> = Vec::new();
            for at in reactions {
                let RawParsed::Reaction {
                    emoji,
                    sender,
                    at: ctime,
                    ..
                } = read(file, path, at)?
                else {
                    return Err(changed(path, at));
                };
                // Shaped like the service's own reaction map: the user's `ctime`.
                let when = ctime.map(|ms| ("ctime".to_owned(), Node::Uint(ms)));
                let user = (sender, Node::Object(when.into_iter().collect()));
                match by_emoji.iter_mut().find(|(e, _)| *e == emoji) {
                    Some((_, users)) if users.iter().any(|(u, _)| *u == user.0) => {}
                    Some((_, users)) => users.push(user),
                    None => by_emoji.push((emoji, vec![user])),
                }
            }
            let entries = by_emoji.into_iter().map(|(emoji, users)| {
                let fields = vec![
                    ("decorated".to_owned(), Node::Str(emoji.clone())),
                    ("users".to_owned(), Node::Object(users)),
                ];
                (emoji, Node::Object(fields))
            });
            rec.reactions = Some(Node::Object(entries.collect()));
        }
        Ok(())
    }
}

fn read(
    file: &mut (impl Read + Seek),
    path: &Path,
    at: &FoldRef,
) -> Result<RawParsed, KeybaseError> {
    let read_err = |source| KeybaseError::Read {
        path: path.to_owned(),
        source,
    };
    let mut buf = vec![0; at.len as usize];
    file.seek(SeekFrom::Start(at.offset)).map_err(read_err)?;
    file.read_exact(&mut buf).map_err(read_err)?;
    Ok(parse_wrapper(&buf))
}

fn changed(path: &Path, at: &FoldRef) -> KeybaseError {
    let detail = format!("byte {} is no longer message {}", at.offset, at.id);
    KeybaseError::Changed {
        path: path.to_owned(),
        detail,
    }
}
