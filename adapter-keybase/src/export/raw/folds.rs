//! Edit, delete and reaction messages of raw dumps, applied to their targets.
//!
//! `read` already folds edits into the target's body, aggregates reactions and drops deleted
//! messages, but it still lists the edit/delete/reaction messages themselves (and dumps made
//! otherwise may not be folded at all). So: a target with an edit is marked edited and gets the
//! latest edit's body (the same text when already folded); a target without aggregated
//! reactions gets those of its reaction messages; deletes remove their targets (in either order)
//! and un-reactions (a delete of a reaction message). Only offsets are kept; the edit and
//! reaction records are read back when their target's page is read.

use std::{
    io::{Read, Seek, SeekFrom},
    path::Path,
};

use super::msg::{RawParsed, parse_wrapper};
use crate::{
    error::KeybaseError,
    export::{line::Record, node::Node},
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

/// The edit, reaction and delete messages of a raw dump.
#[derive(Debug, Default)]
pub(crate) struct Folds {
    edits: Vec<FoldRef>,
    reactions: Vec<FoldRef>,
    deleted: Vec<(u32, u64)>,
}

impl Folds {
    /// Records an edit message.
    pub(crate) fn edit(&mut self, at: FoldRef) {
        self.edits.push(at);
    }

    /// Records a reaction message.
    pub(crate) fn reaction(&mut self, at: FoldRef) {
        self.reactions.push(at);
    }

    /// Records that message `id` of `chan` was deleted.
    pub(crate) fn delete(&mut self, chan: u32, id: u64) {
        self.deleted.push((chan, id));
    }

    /// The deleted (channel, id) pairs, sorted once [`Folds::finish`] ran.
    pub(crate) fn deleted(&self) -> &[(u32, u64)] {
        &self.deleted
    }

    /// Sorts everything and drops deleted edits and reactions (un-reactions).
    pub(crate) fn finish(&mut self) {
        self.deleted.sort_unstable();
        self.deleted.dedup();
        let deleted = &self.deleted;
        let alive = |f: &FoldRef| deleted.binary_search(&(f.chan, f.id)).is_err();
        self.edits.retain(alive);
        self.reactions.retain(alive);
        self.edits
            .sort_unstable_by_key(|f| (f.chan, f.target, f.id));
        self.reactions
            .sort_unstable_by_key(|f| (f.chan, f.target, f.id));
    }

    fn of(list: &[FoldRef], chan: u32, target: u64) -> &[FoldRef] {
        let start = list.partition_point(|f| (f.chan, f.target) < (chan, target));
        let len = list[start..].partition_point(|f| (f.chan, f.target) == (chan, target));
        &list[start..start + len]
    }

    /// Applies the edits and reaction messages of `rec` (message `rec.id` of `chan`), reading
    /// them from `file`.
    pub(crate) fn apply(
        &self,
        rec: &mut Record,
        chan: u32,
        file: &mut (impl Read + Seek),
        path: &Path,
    ) -> Result<(), KeybaseError> {
        if let Some(latest) = Self::of(&self.edits, chan, rec.id).last() {
            match read(file, path, latest)? {
                RawParsed::Edit { body, .. } => {
                    rec.text = body;
                    rec.edited = true;
                }
                _ => return Err(changed(path, latest)),
            }
        }
        let reactions = Self::of(&self.reactions, chan, rec.id);
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
