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
//! counted skip (`{"error": …}` entries, joins…). Chats are named as keybase-export names them
//! (`team#topic`, `alice,bob`), and attachments are looked for in the same
//! `<channel>/<id>-<filename>` layout.

pub(crate) mod folds;
pub(crate) mod msg;
mod scanner;
mod system;

use std::{
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use self::{
    folds::{FoldRef, Folds},
    msg::{RawParsed, parse_wrapper},
    scanner::{Found, WrapperScanner},
};
use super::{
    ExportFormat, ExportOptions, RejectReason, SkipReason,
    attachments::AttachmentDir,
    scan::{ScanState, Scanned},
};
use crate::error::KeybaseError;

/// Reads a raw dump once.
pub(crate) fn scan_raw(
    path: &Path,
    options: &ExportOptions,
    dir: &AttachmentDir,
    rejects_path: Option<PathBuf>,
) -> Result<Scanned, KeybaseError> {
    let open = |source| KeybaseError::Open {
        path: path.to_owned(),
        source,
    };
    let read_err = |source| KeybaseError::Read {
        path: path.to_owned(),
        source,
    };
    let mut scanner = WrapperScanner::new(BufReader::with_capacity(
        1 << 18,
        File::open(path).map_err(open)?,
    ));
    let mut file = File::open(path).map_err(read_err)?;
    let max = options.max_line_bytes.min(u32::MAX as usize);
    let mut state = ScanState::new(path, options, dir, rejects_path)?;
    let mut folds = Folds::default();
    let mut buf = Vec::new();
    while let Some(found) = scanner.next_found().map_err(read_err)? {
        state.stats.lines += 1;
        let (line, offset, len) = match found {
            Found::Error { line, detail } => {
                state.reject(line, RejectReason::Malformed, detail, None, b"")?;
                continue;
            }
            Found::Wrapper { line, offset, len } => (line, offset, len),
        };
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
            RawParsed::Record(rec) => state.message(&rec, line, offset, len, &buf)?,
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
    folds.finish();
    state.finish(ExportFormat::RawApi, folds)
}
