//! The export reader. Every layout of `keybase-exports.md` is read, detected by shape (see
//! `export/layouts/`): keybase-export JSON Lines (Bannerets/eilvelia `keybase-export`, every
//! version), raw `keybase chat api` dumps (see `export/raw/`) alone or in folders,
//! keybase-binding-original's JSON, dentropy/keybase-binding's folder and SQLite database,
//! keybase-binding-nodejs's folder, `kbbridge export` folders (detected by their manifest, see
//! [`crate::layout`]), and a folder holding several of these, read as one export.
//!
//! Whatever the layout, it comes down to a list of files read one after the other as one
//! sequence (`export/segments.rs`), each in its record format and with its own attachments
//! folder. [`KeybaseExport::open`] scans them once and keeps only an index (24 bytes per
//! message) and, for raw dumps, where the edit and reaction messages are and which ids are
//! deleted, all in temporary files past a few megabytes, so memory stays flat however big the
//! export is; [`KeybaseExport::read_page`] (and [`bridge_core::HistorySource::page`]) seeks to
//! and parses just the records it returns, oldest first, although the files list each channel
//! newest first. What the keybase-export format holds and how it is read:
//!
//! * Edits are already folded in (`edited: true`), deletes already dropped.
//! * Reactions: both historical shapes, with keys mangled by camel-casing (see
//!   `export/reactions.rs`); old-shape ones are replayed with `exact = false`, counted.
//! * `special` pseudo-lines: reaction lines are skipped (the reaction is on its target);
//!   system and headline lines become [`bridge_core::MessageKind::Notice`] messages, or are
//!   skipped when [`ExportOptions::notices`] is off. Records without text (join, leave,
//!   metadata…) are skipped. All skips are counted in [`ExportStats::skipped`].
//! * Old files name team channels by the team only: `acme` is read as `acme#general`.
//! * A (channel, id) seen twice (incremental exports) keeps its first line, the newest; in a
//!   folder of several exports, the copy of the export whose name sorts last.
//! * Attachments: where each layout keeps them (keybase-export's
//!   `<attachments dir>/<channel_name>/<id>-<filename>`, see `export/attachments.rs`), never
//!   outside that folder; a missing file is listed and the message replays with its text.
//! * A line that cannot be read is reported with its file and line number, counted, listed in
//!   [`KeybaseExport::rejects`] (and written to `<stem>.rejects.jsonl` with
//!   [`ExportOptions::write_rejects`]); reading goes on.

pub(crate) mod attachments;
pub mod chat_info;
mod format;
mod index;
mod layouts;
pub(crate) mod line;
pub(crate) mod node;
mod options;
pub(crate) mod raw;
pub(crate) mod reactions;
mod reader;
mod rejects;
mod scan;
mod segments;
mod spill;
mod stats;

use std::{
    fmt,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
};

use bridge_core::{ChatId, ChatInfo, Cursor, Page};

use tempfile::TempPath;

use self::{
    attachments::AttachmentDir,
    format::parse_record,
    index::Index,
    raw::folds::Folds,
    reactions::UserNames,
    scan::{Headlines, ScanState},
    segments::Segments,
};
pub use self::{
    format::ExportFormat,
    index::ChatSummary,
    layouts::{ACCEPTED_LAYOUTS, ExportLayout},
    options::ExportOptions,
    rejects::{Reject, RejectReason, RejectScope},
    stats::{AttachmentStats, ExportStats, MissingAttachment, ReactionStats, SkipReason, Skipped},
};
use crate::{
    convert::{Context, to_message},
    error::KeybaseError,
};

/// The most messages one page returns, whatever the caller asks: pages stay small in memory.
pub const MAX_PAGE: usize = 1000;

/// How many rejects and missing attachments are kept in memory (all are counted).
pub const MAX_KEPT_REPORTS: usize = 10_000;

/// The file name looked for when [`KeybaseExport::open`] is given a folder.
pub const EXPORT_FILE_NAME: &str = "export.jsonl";

/// An opened keybase-export file: its index, what the scan found, and page reads.
///
/// Cloning is cheap (the index is shared); it is a [`bridge_core::HistorySource`].
#[derive(Clone)]
pub struct KeybaseExport {
    shared: Arc<Shared>,
}

impl fmt::Debug for KeybaseExport {
    /// The file and its size in chats and messages, not the whole index.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeybaseExport")
            .field("path", &self.shared.path)
            .field("layout", &self.shared.layout)
            .field("files", &self.shared.segments.parts().len())
            .field("chats", &self.shared.index.summaries().len())
            .field("messages", &self.shared.stats.messages)
            .field("rejects", &self.shared.stats.rejected)
            .finish()
    }
}

struct Shared {
    path: PathBuf,
    layout: ExportLayout,
    format: ExportFormat,
    folds: Folds,
    options: ExportOptions,
    /// The attachments folders, by the index each part gives.
    dirs: Vec<AttachmentDir>,
    index: Index,
    stats: ExportStats,
    rejects: Vec<Reject>,
    names: UserNames,
    headlines: Headlines,
    /// The bytes indexed: the files read, one after the other.
    segments: Segments,
    /// Temporary copies the segments read (database tables); deleted with the export.
    _copies: Vec<TempPath>,
}

impl KeybaseExport {
    /// Opens and indexes `path`, a file or folder of any [`ExportLayout`] (detected by shape,
    /// see [`ACCEPTED_LAYOUTS`]), with the default options. Reads every file once: blocking,
    /// call it off the async runtime.
    ///
    /// # Errors
    /// [`KeybaseError::Open`] / [`KeybaseError::Read`] when a file cannot be read,
    /// [`KeybaseError::UnknownLayout`] when `path` is no layout (or looks like two),
    /// [`KeybaseError::Manifest`] / [`KeybaseError::Database`] when a kbbridge manifest or a
    /// keybase-binding database cannot be used, [`KeybaseError::NothingReadable`] when nothing
    /// in it could be read, [`KeybaseError::Changed`] when it is written to while being
    /// indexed; bad lines are not errors (see [`KeybaseExport::rejects`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KeybaseError> {
        Self::open_with(path, ExportOptions::default())
    }

    /// Opens and indexes `path` with `options`.
    ///
    /// # Errors
    /// As [`KeybaseExport::open`], plus [`KeybaseError::WriteRejects`] when
    /// [`ExportOptions::write_rejects`] is set and the rejects file cannot be written.
    pub fn open_with(path: impl AsRef<Path>, options: ExportOptions) -> Result<Self, KeybaseError> {
        let plan = layouts::plan(path.as_ref(), &options)?;
        let path = plan.path.clone();
        let segments = Segments::new(plan.parts.clone()).map_err(|source| KeybaseError::Open {
            path: path.clone(),
            source,
        })?;
        let dirs = plan.attachment_dirs(&options);
        let rejects_path = options.write_rejects.then(|| rejects_path(&path));
        let state = ScanState::new(&path, &segments, &options, &dirs, rejects_path)?;
        let scanned = scan::scan(&segments, state)?;
        let changed = segments.changed().map_err(|source| KeybaseError::Read {
            path: path.clone(),
            source,
        })?;
        if let Some(why) = changed {
            let detail = format!("it was written to while being indexed: {why}");
            return Err(KeybaseError::Changed { path, detail });
        }
        // A kbbridge folder whose manifest was read is an export, even with no chat yet.
        if plan.layout != ExportLayout::Kbbridge && !options.allow_empty {
            let first = scanned
                .rejects
                .iter()
                .find(|r| r.scope() == RejectScope::Line);
            if let Some(detail) = scanned.stats.nothing_read(first) {
                return Err(KeybaseError::NothingReadable { path, detail });
            }
        }
        let shared = Shared {
            path,
            layout: plan.layout,
            format: plan.format,
            folds: scanned.folds,
            options,
            dirs,
            index: scanned.index,
            stats: scanned.stats,
            rejects: scanned.rejects,
            names: scanned.names,
            headlines: scanned.headlines,
            segments,
            _copies: plan.copies,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The layout detected.
    pub fn layout(&self) -> ExportLayout {
        self.shared.layout
    }

    /// The record format detected (for an export combining several, its first file's).
    pub fn format(&self) -> ExportFormat {
        self.shared.format
    }

    /// The export read: the file, the folder, or a kbbridge folder's manifest.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The attachments folder used (for an export combining several, the first).
    pub fn attachments_dir(&self) -> &Path {
        self.shared
            .dirs
            .first()
            .map_or(Path::new(""), AttachmentDir::root)
    }

    /// The files read, in order (for a database, its temporary copies).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.shared
            .segments
            .parts()
            .iter()
            .map(|p| p.label.as_path())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ExportOptions {
        &self.shared.options
    }

    /// The chats with at least one message, in the order they first appear in the file.
    pub fn chats(&self) -> &[ChatSummary] {
        self.shared.index.summaries()
    }

    /// How many messages `chat` has, or `None` if the export has no such chat.
    pub fn message_count(&self, chat: &str) -> Option<u64> {
        self.shared
            .index
            .chan(chat)
            .map(|c| self.shared.index.count(c))
    }

    /// What the scan found: counts by outcome, reactions, attachments.
    pub fn stats(&self) -> &ExportStats {
        &self.shared.stats
    }

    /// What a target needs to create the copy of `chat`, or `None` if the export has no such
    /// chat. `acme.ops#alerts` is the channel `alerts` in the groups `["acme", "ops"]`, with the
    /// latest headline as topic; `alice,bob` is a direct conversation of alice and bob (readers
    /// after a `#`, as in `alice,bob#carol`, are members too).
    pub fn describe_chat(&self, chat: &ChatId) -> Option<ChatInfo> {
        self.shared.index.chan(chat.as_str())?;
        let headline = self
            .shared
            .headlines
            .get(chat.as_str())
            .map(|(_, t)| t.as_str());
        Some(chat_info::describe(chat, headline))
    }

    /// The problems reported, in file order (at most [`MAX_KEPT_REPORTS`]).
    pub fn rejects(&self) -> &[Reject] {
        &self.shared.rejects
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) messages of `chat`, oldest first, with an id above
    /// the cursor `after`; the page's cursor is the last id returned, `None` once the chat is
    /// exhausted. Blocking file reads: [`bridge_core::HistorySource::page`] runs it off the
    /// runtime.
    ///
    /// # Errors
    /// [`KeybaseError::UnknownChat`], [`KeybaseError::BadCursor`], and
    /// [`KeybaseError::Read`] / [`KeybaseError::Changed`] when the file can no longer be read as
    /// indexed.
    pub fn read_page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, KeybaseError> {
        self.shared.read_page(chat, after, limit)
    }

    /// The error for a chat the export does not have, listing those it has.
    pub(crate) fn unknown_chat(&self, chat: &ChatId) -> KeybaseError {
        self.shared.unknown_chat(chat)
    }
}

impl Shared {
    fn chats(&self) -> &[ChatSummary] {
        self.index.summaries()
    }

    fn read_page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, KeybaseError> {
        let chan = self
            .index
            .chan(chat.as_str())
            .ok_or_else(|| self.unknown_chat(chat))?;
        let after_id = match after {
            None => None,
            Some(c) => Some(
                c.as_str()
                    .parse::<u64>()
                    .map_err(|_| KeybaseError::BadCursor {
                        chat: chat.to_string(),
                        cursor: c.to_string(),
                    })?,
            ),
        };
        let read_err = |source| KeybaseError::Read {
            path: self.path.clone(),
            source,
        };
        let (entries, more) = self
            .index
            .page(chan, after_id, limit.min(MAX_PAGE))
            .map_err(read_err)?;
        let Some(last) = entries.last() else {
            let next = more.then(|| after.cloned().unwrap_or_else(|| Cursor::new("0")));
            return Ok(Page {
                messages: Vec::new(),
                next,
            });
        };
        if let Some(why) = self.segments.changed().map_err(read_err)? {
            return Err(self.changed(why));
        }
        let mut file = self.segments.reader();
        // The records of a page usually sit together (a channel is written in one stretch):
        // then they are read at once.
        let span = dense_span(&entries);
        let mut block = Vec::new();
        if let Some((start, end)) = span {
            block.resize((end - start) as usize, 0);
            file.seek(SeekFrom::Start(start)).map_err(read_err)?;
            file.read_exact(&mut block).map_err(read_err)?;
        }
        let first = entries.first().map_or(0, |e| e.id);
        let folds = self.folds.page(chan, first, last.id).map_err(read_err)?;
        let mut buf = Vec::new();
        let mut messages = Vec::with_capacity(entries.len());
        for entry in &entries {
            let bytes: &[u8] = match span {
                Some((start, _)) => {
                    let at = (entry.offset - start) as usize;
                    &block[at..at + entry.len as usize]
                }
                None => {
                    buf.resize(entry.len as usize, 0);
                    file.seek(SeekFrom::Start(entry.offset)).map_err(read_err)?;
                    file.read_exact(&mut buf).map_err(read_err)?;
                    &buf
                }
            };
            let gone = || {
                let detail = format!("byte {} is no longer message {}", entry.offset, entry.id);
                self.changed(detail)
            };
            let part = self.segments.part_at(entry.offset);
            let Some((format, dir)) = part.and_then(|p| Some((p.format, self.dirs.get(p.dir)?)))
            else {
                return Err(gone());
            };
            let Some(mut rec) = parse_record(format, bytes).filter(|rec| rec.id == entry.id) else {
                return Err(gone());
            };
            // Edits and reactions of raw dumps: in an export combining several, they apply to
            // the copy kept whatever file it came from.
            folds.apply(&mut rec, &mut file, &self.path)?;
            let ctx = Context {
                chat,
                dir,
                names: &self.names,
            };
            messages.push(to_message(*rec, &ctx));
        }
        let next = more.then(|| Cursor::new(last.id.to_string()));
        Ok(Page { messages, next })
    }

    fn unknown_chat(&self, chat: &ChatId) -> KeybaseError {
        const SHOWN: usize = 20;
        let chats = self.chats();
        let mut known: Vec<&str> = chats.iter().take(SHOWN).map(|c| c.chat.as_str()).collect();
        if chats.len() > SHOWN {
            known.push("…");
        }
        let known = if known.is_empty() {
            "no chats".to_owned()
        } else {
            known.join(", ")
        };
        KeybaseError::UnknownChat {
            chat: chat.to_string(),
            path: self.path.clone(),
            known,
        }
    }

    fn changed(&self, detail: String) -> KeybaseError {
        KeybaseError::Changed {
            path: self.path.clone(),
            detail,
        }
    }
}

/// The byte range holding every record of `entries`, when reading it whole wastes little (at
/// most as many bytes again as the records, and 32 MiB in all).
fn dense_span(entries: &[index::Entry]) -> Option<(u64, u64)> {
    let start = entries.iter().map(|e| e.offset).min()?;
    let end = entries.iter().map(|e| e.offset + u64::from(e.len)).max()?;
    let records: u64 = entries.iter().map(|e| u64::from(e.len)).sum();
    let span = end - start;
    (span <= 2 * records + (64 << 10) && span <= 32 << 20).then_some((start, end))
}

/// `dir/export.jsonl` → `dir/export.rejects.jsonl`.
fn rejects_path(export: &Path) -> PathBuf {
    let stem = export
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    export.with_file_name(format!("{stem}.rejects.jsonl"))
}
