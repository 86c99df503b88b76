//! The one pass over the export at open: every line (or raw entry) of every file is
//! classified, messages are indexed, the rest is counted or reported. Memory holds one record
//! at a time plus the index (which goes to a temporary file past a few megabytes, see
//! `export/entries.rs`) and the raw dumps' edit, reaction and delete references.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use super::segments::{Part, SegmentReader, Segments};

use bridge_core::ChatId;
use tracing::{info, warn};

use super::{
    ExportFormat, ExportOptions, MAX_KEPT_REPORTS,
    attachments::AttachmentDir,
    format::parse_record,
    index::{Entry, Index, IndexBuilder, LeftOut},
    line::{NoticeKind, Parsed, Record, parse_line},
    raw::{
        self,
        folds::{Folds, FoldsBuilder},
    },
    reactions::{self, UserNames},
    reader::LineReader,
    rejects::{Reject, RejectLog, RejectReason},
    stats::{ExportStats, MissingAttachment, SkipReason, Tally},
};
use crate::{
    convert::{AttachmentOutcome, attachment_of},
    error::KeybaseError,
};

/// What the scan hands to the reader.
pub(crate) struct Scanned {
    pub index: Index,
    pub stats: ExportStats,
    pub rejects: Vec<Reject>,
    pub names: UserNames,
    pub folds: Folds,
    pub headlines: Headlines,
}

/// The latest headline of each chat: (message id, text).
pub(crate) type Headlines = HashMap<String, (u64, String)>;

/// Where to report a line's partial problems (attachment, reactions); `None` when re-reading.
type Report<'a> = Option<(&'a mut RejectLog, u64, &'a [u8])>;

/// The scan in progress, whatever the format: counts, index, reports.
pub(crate) struct ScanState<'a> {
    path: &'a Path,
    segments: &'a Segments,
    options: &'a ExportOptions,
    /// The attachments folders, by the index the parts give.
    dirs: &'a [AttachmentDir],
    /// The folder of the part being read.
    dir: usize,
    /// The counts so far.
    pub stats: ExportStats,
    /// The index so far.
    pub builder: IndexBuilder,
    names: UserNames,
    log: RejectLog,
    /// Offsets of the records in `stats.attachments.missing_list`, to drop left-out entries.
    missing_offsets: Vec<u64>,
    headlines: Headlines,
}

impl<'a> ScanState<'a> {
    /// A scan of `path` (read from `segments`, whose attachments folders are `dirs`), writing
    /// rejects to `rejects_path` when given.
    pub(crate) fn new(
        path: &'a Path,
        segments: &'a Segments,
        options: &'a ExportOptions,
        dirs: &'a [AttachmentDir],
        rejects_path: Option<PathBuf>,
    ) -> Result<Self, KeybaseError> {
        Ok(Self {
            path,
            segments,
            options,
            dirs,
            dir: 0,
            stats: ExportStats::default(),
            builder: IndexBuilder::with_memory(options.index_memory),
            names: UserNames::default(),
            log: RejectLog::new(path, rejects_path)?,
            missing_offsets: Vec::new(),
            headlines: Headlines::new(),
        })
    }

    /// The records that follow are `part`'s: reports name its file, attachments are looked for
    /// in its folder.
    pub(crate) fn set_part(&mut self, part: &Part) {
        self.log.set_file(&part.label);
        self.dir = part.dir;
    }

    /// The attachments folder of the part being read.
    fn current_dir(&self) -> Result<&'a AttachmentDir, KeybaseError> {
        let dirs = self.dirs;
        dirs.get(self.dir).ok_or_else(|| no_dir(self.path))
    }

    /// The longest record accepted, in bytes.
    pub(crate) fn max_line_bytes(&self) -> usize {
        self.options.max_line_bytes.min(u32::MAX as usize)
    }

    /// A record that is not replayed at all.
    pub(crate) fn reject(
        &mut self,
        line: u64,
        reason: RejectReason,
        detail: String,
        at: Option<(&str, u64)>,
        raw: &[u8],
    ) -> Result<(), KeybaseError> {
        self.stats.rejected += 1;
        self.log.report(line, reason, detail, at, raw)
    }

    /// A record understood and not replayed.
    pub(crate) fn skip(&mut self, reason: SkipReason) {
        self.stats.skipped.add(reason);
    }

    /// A message, at `offset` (`len` bytes) on line `line`: indexed and accounted (or skipped,
    /// for a notice with notices off; headlines are remembered either way).
    pub(crate) fn message(
        &mut self,
        rec: &Record,
        line: u64,
        offset: u64,
        len: u32,
        raw: &[u8],
    ) -> Result<(), KeybaseError> {
        if let Some(headline) = headline_of(rec) {
            let latest = self
                .headlines
                .get(&rec.chat)
                .is_some_and(|(id, _)| *id > rec.id);
            if !latest {
                self.headlines
                    .insert(rec.chat.clone(), (rec.id, headline.to_owned()));
            }
        }
        if rec.notice.is_some() && !self.options.notices {
            self.skip(SkipReason::NoticeDisabled);
            return Ok(());
        }
        let pushed = self
            .builder
            .push(&rec.chat, rec.id, offset, len, rec.sent_at)
            .map_err(|source| KeybaseError::Read {
                path: self.path.to_owned(),
                source,
            })?;
        if !pushed {
            let detail = "more channels than the reader can index".to_owned();
            return self.reject(line, RejectReason::UnknownShape, detail, None, raw);
        }
        self.stats.legacy_channel_lines += u64::from(rec.legacy);
        self.names.observe(&rec.sender);
        let dir = self.current_dir()?;
        let report = Some((&mut self.log, line, raw));
        let (tally, missing) = account(rec, line, dir, &self.names, report)?;
        tally.apply(&mut self.stats, 1);
        if let Some(m) = missing {
            if self.stats.attachments.missing_list.len() < MAX_KEPT_REPORTS {
                self.stats.attachments.missing_list.push(m);
                self.missing_offsets.push(offset);
            }
        }
        Ok(())
    }

    /// Builds the index without repeated entries and without the `deleted` (channel, id) pairs
    /// (sorted), takes their share out of the stats, and hands everything over.
    pub(crate) fn finish(mut self, folds: Folds) -> Result<Scanned, KeybaseError> {
        let builder = std::mem::take(&mut self.builder);
        let segments = self.segments;
        let mut file = segments.reader();
        let mut missing = self.missing_offsets.clone();
        missing.sort_unstable();
        // Offsets of left-out records that have a missing attachment listed.
        let mut left_out: Vec<u64> = Vec::new();
        let (mut duplicates, mut deleted) = (0u64, 0u64);
        let mut failure = None;
        let finished = builder.finish(folds.deleted_in_order(), |e, why| {
            match why {
                LeftOut::Duplicate => duplicates += 1,
                LeftOut::Deleted => deleted += 1,
            }
            if missing.binary_search(&e.offset).is_ok() {
                left_out.push(e.offset);
            }
            self.uncount(e, &mut file).map_err(|err| {
                failure = Some(err);
                std::io::Error::other("a left-out record could not be re-read")
            })
        });
        let index = match (finished, failure) {
            (_, Some(err)) => return Err(err),
            (Ok(index), None) => index,
            (Err(source), None) => {
                return Err(KeybaseError::Read {
                    path: self.path.to_owned(),
                    source,
                });
            }
        };
        left_out.sort_unstable();
        let mut offsets = self.missing_offsets.into_iter();
        self.stats.attachments.missing_list.retain(|_| {
            offsets
                .next()
                .is_none_or(|offset| left_out.binary_search(&offset).is_err())
        });
        self.stats.skipped.duplicates += duplicates;
        self.stats.skipped.deleted += deleted;
        self.stats.messages = index.len();
        let (rejects, not_kept) = self.log.finish()?;
        self.stats.rejects_not_kept = not_kept;
        self.stats.rejects = rejects.len() as u64 + not_kept;
        summarize(self.path, self.dirs, &self.stats);
        Ok(Scanned {
            index,
            stats: self.stats,
            rejects,
            names: self.names,
            folds,
            headlines: self.headlines,
        })
    }

    /// Takes a left-out entry's share back out of the stats (re-reading just that record).
    fn uncount(&mut self, entry: &Entry, file: &mut SegmentReader<'_>) -> Result<(), KeybaseError> {
        let path = self.path;
        let part = self.segments.part_at(entry.offset);
        let (format, dir) = match part.and_then(|p| Some((p.format, self.dirs.get(p.dir)?))) {
            Some(found) => found,
            None => return Err(no_dir(path)),
        };
        let read_err = |source| KeybaseError::Read {
            path: path.to_owned(),
            source,
        };
        let mut buf = vec![0; entry.len as usize];
        file.seek(SeekFrom::Start(entry.offset)).map_err(read_err)?;
        file.read_exact(&mut buf).map_err(read_err)?;
        if let Some(rec) = parse_record(format, &buf) {
            let (tally, _) = account(&rec, 0, dir, &self.names, None)?;
            tally.apply(&mut self.stats, -1);
        }
        Ok(())
    }
}

/// Reads every part of `segments` once, each in its own format, into one index.
pub(crate) fn scan(segments: &Segments, mut state: ScanState<'_>) -> Result<Scanned, KeybaseError> {
    // A quarter of the index's memory for each kind of fold.
    let mut folds = FoldsBuilder::with_memory(state.options.index_memory / 4);
    let mut file = segments.reader();
    let mut buf = Vec::new();
    for part in segments.parts() {
        state.set_part(part);
        match part.format {
            ExportFormat::KeybaseExport => scan_lines(part, &mut state, &mut buf)?,
            ExportFormat::RawApi | ExportFormat::Kbbridge => {
                raw::scan_part(part, &mut state, &mut folds, &mut file, &mut buf)?;
            }
        }
    }
    let folds = folds.finish().map_err(|source| KeybaseError::Read {
        path: state.path.to_owned(),
        source,
    })?;
    state.finish(folds)
}

/// Reads a keybase-export JSON Lines file once.
fn scan_lines(
    part: &Part,
    state: &mut ScanState<'_>,
    buf: &mut Vec<u8>,
) -> Result<(), KeybaseError> {
    let path = &part.path;
    let file = File::open(path).map_err(|source| KeybaseError::Open {
        path: path.clone(),
        source,
    })?;
    let read_err = |source| KeybaseError::Read {
        path: path.clone(),
        source,
    };
    let max = state.max_line_bytes();
    let reader = BufReader::with_capacity(1 << 18, file.take(part.len));
    let mut reader = LineReader::new(reader, max);
    while let Some(span) = reader.next_line(buf).map_err(read_err)? {
        state.stats.lines += 1;
        let line = span.number;
        let Some(len) = u32::try_from(span.len).ok().filter(|_| !span.too_long) else {
            let detail = format!("line of {} bytes, over the {max}-byte limit", span.len);
            state.reject(line, RejectReason::TooLong, detail, None, buf)?;
            continue;
        };
        match parse_line(buf) {
            Parsed::Record(rec) => state.message(&rec, line, part.base + span.offset, len, buf)?,
            Parsed::Skip(reason) => state.skip(reason),
            Parsed::Reject { reason, detail, at } => {
                let at = at.as_ref().map(|(chat, id)| (chat.as_str(), *id));
                state.reject(line, reason, detail, at, buf)?;
            }
        }
    }
    Ok(())
}

/// The error for a part whose attachments folder is not in the list (a bug, not bad input).
fn no_dir(path: &Path) -> KeybaseError {
    KeybaseError::Read {
        path: path.to_owned(),
        source: std::io::Error::other("an indexed record lies outside every file read"),
    }
}

/// The topic a headline notice sets (`New headline: "…"`).
fn headline_of(rec: &Record) -> Option<&str> {
    if rec.notice != Some(NoticeKind::Headline) {
        return None;
    }
    rec.text.strip_prefix("New headline: \"")?.strip_suffix('"')
}

/// A message's share of the stats, reporting its attachment and reaction problems.
fn account(
    rec: &Record,
    line: u64,
    dir: &AttachmentDir,
    names: &UserNames,
    mut report: Report<'_>,
) -> Result<(Tally, Option<MissingAttachment>), KeybaseError> {
    let mut problems = Vec::new();
    let mut tally = Tally {
        notice: rec.notice.is_some(),
        ..Tally::default()
    };
    let mut missing = None;
    match attachment_of(rec, dir) {
        AttachmentOutcome::None => {}
        AttachmentOutcome::Found { .. } => (tally.attachment, tally.found) = (true, true),
        AttachmentOutcome::Unreadable { name, path, .. } => {
            (tally.attachment, tally.missing) = (true, true);
            missing = Some(MissingAttachment {
                chat: ChatId::new(rec.chat.clone()),
                id: rec.id,
                line,
                filename: Some(name),
                path: Some(path),
            });
        }
        AttachmentOutcome::Missing { filename, path } => {
            (tally.attachment, tally.missing) = (true, true);
            let chat = ChatId::new(rec.chat.clone());
            missing = Some(MissingAttachment {
                chat,
                id: rec.id,
                line,
                filename,
                path,
            });
        }
        AttachmentOutcome::Rejected(reason, detail) => {
            (tally.attachment, tally.attachment_rejected) = (true, true);
            problems.push((reason, detail));
        }
    }
    if let Some(node) = &rec.reactions {
        let converted = reactions::convert(node, names, rec.exact_keys);
        tally.emoji = converted.reactions.len() as u64;
        tally.old_shape = converted.old_shape;
        tally.undecorated = converted.undecorated;
        problems.extend(
            converted
                .problems
                .into_iter()
                .map(|p| (RejectReason::BadReactions, p)),
        );
    }
    if let Some((log, line, raw)) = report.as_mut() {
        for (reason, detail) in problems {
            log.report(*line, reason, detail, Some((&rec.chat, rec.id)), raw)?;
        }
    }
    Ok((tally, missing))
}

fn summarize(path: &Path, dirs: &[AttachmentDir], stats: &ExportStats) {
    info!(file = %path.display(), lines = stats.lines, messages = stats.messages,
        notices = stats.notices, skipped = stats.skipped.total(), rejects = stats.rejects,
        rejected_lines = stats.rejected, "read Keybase export");
    let a = &stats.attachments;
    if a.missing > 0 {
        let roots: Vec<String> = dirs
            .iter()
            .map(|d| d.root().display().to_string())
            .collect();
        let folder_exists = dirs.iter().any(AttachmentDir::exists);
        warn!(file = %path.display(), missing = a.missing, total = a.total,
            dir = %roots.join(", "), folder_exists,
            "attachments missing: those messages replay with their text only");
    }
    let r = &stats.reactions;
    if r.old_shape + r.undecorated > 0 {
        warn!(file = %path.display(), old_shape = r.old_shape, undecorated = r.undecorated,
            messages = r.messages_inexact,
            "reactions without their exact emoji (pre-2020 export shape): replayed by mangled key");
    }
    if stats.legacy_channel_lines > 0 {
        info!(file = %path.display(), lines = stats.legacy_channel_lines,
            "team-only channel names (exports before 2022-07) read as <team>#general");
    }
}
