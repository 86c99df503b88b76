//! Raw `keybase chat api` dumps, read behind the same [`super::KeybaseExport::open`]:
//!
//! * arrays of `{"msg": …}` wrappers (dentropy/keybase-binding and keybase-binding-nodejs,
//!   backup scripts), newest first, with extra keys (`"id": "<team>-<channel>-<id>"`,
//!   `msg.topic_id`, `msg.urls`);
//! * `read` replies `{"result": {"messages": […], "pagination": …}}`, one per file or one per
//!   line (`conv.json`);
//! * keybase-binding-original's `{"topic_name": {"<topic>": <read reply>}}`;
//! * one wrapper per line (dentropy/keybase-binding's database rows, copied out).
//!
//! A file is detected by its first key or a leading `[` (see `export/format.rs`); wrappers
//! are found wherever they sit ([`scanner`]), each becomes a message, a fold ([`folds`]) or a
//! counted skip (`{"error": …}` entries, joins…). kbbridge's own export folder is read the
//! same way, one committed conversation file after the other. Chats are named as
//! keybase-export names them (`team#topic`, `alice,bob`); attachments are looked for where the
//! file's layout keeps them (`export/attachments.rs`).

pub(crate) mod folds;
pub(crate) mod msg;
mod scanner;
pub(crate) mod system;

use std::io::{BufReader, Read, Seek, SeekFrom};

use self::{
    folds::{FoldRef, FoldsBuilder},
    msg::{RawParsed, parse_wrapper},
    scanner::{Found, WrapperScanner},
};
use super::{
    RejectReason, SkipReason,
    format::own_format,
    scan::ScanState,
    segments::{Part, SegmentReader},
};
use crate::error::KeybaseError;

/// Reads one raw dump (or one committed conversation file of kbbridge's own format) once,
/// recording its edits, reactions and deletes in `folds`. Line numbers in reports are the
/// file's; offsets are positions in the whole sequence, read back through `file`.
pub(crate) fn scan_part(
    part: &Part,
    state: &mut ScanState<'_>,
    folds: &mut FoldsBuilder,
    file: &mut SegmentReader<'_>,
    buf: &mut Vec<u8>,
) -> Result<(), KeybaseError> {
    let read_err = |source| KeybaseError::Read {
        path: part.path.clone(),
        source,
    };
    let open = std::fs::File::open(&part.path).map_err(|source| KeybaseError::Open {
        path: part.path.clone(),
        source,
    })?;
    let reader = BufReader::with_capacity(1 << 18, open.take(part.len));
    let mut scanner = WrapperScanner::new(reader, part.one_per_line);
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
        file.read_exact(buf).map_err(read_err)?;
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
        match parse_wrapper(buf) {
            RawParsed::Record(mut rec) => {
                own_format(part.format, &mut rec);
                state.message(&rec, line, offset, len, buf)?;
            }
            RawParsed::Edit {
                chat, id, target, ..
            } => {
                if let Some(f) = fold(&chat, id, target, state) {
                    folds.edit(f).map_err(read_err)?;
                }
            }
            RawParsed::Reaction {
                chat, id, target, ..
            } => {
                if let Some(f) = fold(&chat, id, target, state) {
                    folds.reaction(f).map_err(read_err)?;
                }
            }
            RawParsed::Delete { chat, targets } => {
                if let Some(f) = fold(&chat, 0, 0, state) {
                    for t in targets {
                        folds.delete(f.chan, t).map_err(read_err)?;
                    }
                }
            }
            RawParsed::Skip(reason) => state.skip(reason),
            RawParsed::Reject { reason, detail, at } => {
                let at = at.as_ref().map(|(chat, id)| (chat.as_str(), *id));
                state.reject(line, reason, detail, at, buf)?;
            }
        }
    }
    Ok(())
}
