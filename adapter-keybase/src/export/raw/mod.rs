//! Raw `keybase chat api` dumps, read behind the same [`super::KeybaseExport::open`]:
//!
//! * arrays of `{"msg": …}` wrappers (dentropy/keybase-binding-nodejs, backup scripts),
//!   newest first, with extra keys (`"id": "<team>-<channel>-<id>"`, `msg.topic_id`, `msg.urls`);
//! * `read` replies `{"result": {"messages": […], "pagination": …}}`, one per file or one per
//!   line (`conv.json`);
//! * keybase-binding-original's `{"topic_name": {"<topic>": <read reply>}}`.
//!
//! The file is detected by its first key or a leading `[` (see `export/format.rs`); wrappers
//! are found wherever they sit ([`scanner`]), each becomes a message, a fold ([`folds`]) or a
//! counted skip (`{"error": …}` entries, joins…). kbbridge's own export folder is read the
//! same way, one committed conversation file after the other. Chats are named as keybase-export names them
//! (`team#topic`, `alice,bob`), and attachments are looked for in the same
//! `<channel>/<id>-<filename>` layout.

pub(crate) mod folds;
pub(crate) mod msg;
mod scanner;
pub(crate) mod system;

use std::io::{BufReader, Read, Seek, SeekFrom};

use self::{
    folds::{FoldRef, Folds},
    msg::{RawParsed, parse_wrapper},
    scanner::{Found, WrapperScanner},
};
use super::{
    ExportFormat, RejectReason, SkipReason,
    format::own_format,
    scan::{ScanState, Scanned},
    segments::Segments,
};
use crate::error::KeybaseError;

/// Reads a raw dump (or each committed conversation file of kbbridge's own format) once.
/// Line numbers in reports are per file; offsets are positions in `segments`.
pub(crate) fn scan_raw(
    segments: &Segments,
    format: ExportFormat,
    mut state: ScanState<'_>,
) -> Result<Scanned, KeybaseError> {
    let mut folds = Folds::default();
    let mut file = segments.reader();
    let mut buf = Vec::new();
    for part in segments.parts() {
        state.set_file(&part.path);
        let read_err = |source| KeybaseError::Read {
            path: part.path.clone(),
            source,
        };
        let open = std::fs::File::open(&part.path).map_err(|source| KeybaseError::Open {
            path: part.path.clone(),
            source,
        })?;
        let mut scanner =
            WrapperScanner::new(BufReader::with_capacity(1 << 18, open.take(part.len)));
        while let Some(found) = scanner.next_found().map_err(read_err)? {
            state.stats.lines += 1;
            let (line, offset, len) = match found {
                Found::Error { line, detail } => {
                    state.reject(line, RejectReason::Malformed, detail, None, b"")?;
                    continue;
                }
                Found::Wrapper { line, offset, len } => (line, part.base + offset, len),
            };
            let max = state.max_line_bytes();
            let Some(len) = u32::try_from(len).ok().filter(|&l| l as usize <= max) else {
                let detail = format!("entry of {len} bytes, over the {max}-byte limit");
                state.reject(line, RejectReason::TooLong, detail, None, b"")?;
                continue;
            };
            buf.resize(len as usize, 0);
            file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
            file.read_exact(&mut buf).map_err(read_err)?;
            let fold = |chat: &str, id, target, state: &mut ScanState<'_>| {
                state.skip(SkipReason::Folded);
                let chan = state.builder.intern(chat)?;
                Some(FoldRef {
                    chan,
                    target,
                    id,
                    offset,
                    len,
                })
            };
            match parse_wrapper(&buf) {
                RawParsed::Record(mut rec) => {
                    own_format(format, &mut rec);
                    state.message(&rec, line, offset, len, &buf)?;
                }
                RawParsed::Edit {
                    chat, id, target, ..
                } => {
                    if let Some(f) = fold(&chat, id, target, &mut state) {
                        folds.edit(f);
                    }
                }
                RawParsed::Reaction {
                    chat, id, target, ..
                } => {
                    if let Some(f) = fold(&chat, id, target, &mut state) {
                        folds.reaction(f);
                    }
                }
                RawParsed::Delete { chat, targets } => {
                    if let Some(f) = fold(&chat, 0, 0, &mut state) {
                        targets.into_iter().for_each(|t| folds.delete(f.chan, t));
                    }
                }
                RawParsed::Skip(reason) => state.skip(reason),
                RawParsed::Reject { reason, detail, at } => {
                    let at = at.as_ref().map(|(chat, id)| (chat.as_str(), *id));
                    state.reject(line, reason, detail, at, &buf)?;
                }
            }
        }
    }
    folds.finish();
    state.finish(format, folds)
}
