//! Lines (and parts of lines) the reader could not use: reported, kept in a list and optionally
//! written to `<export stem>.rejects.jsonl`.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;
use tracing::{debug, warn};

use super::MAX_KEPT_REPORTS;
use crate::error::KeybaseError;

/// How much of a rejected line is kept in memory (the rejects file has it whole).
const EXCERPT_CHARS: usize = 200;

/// How many rejects are logged at `warn` before the rest go to `debug`.
const WARN_LIMIT: u64 = 100;

/// What a reject throws away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectScope {
    /// The whole line: nothing of it is replayed.
    Line,
    /// Only the attachment: the message replays without it.
    Attachment,
    /// Only the reactions (or one reaction entry): the message replays without them.
    Reactions,
}

/// Why something was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The line is not valid JSON (a syntax error, or truncated).
    Malformed,
    /// Valid JSON, but not a keybase-export record (not an object, a field of the wrong type,
    /// a raw API object in a line file…).
    UnknownShape,
    /// No message `id`.
    MissingId,
    /// No `channel_name`.
    MissingChannel,
    /// Neither `sender_username` nor `sender_uid`.
    MissingSender,
    /// Neither `sent_at_ms` nor `sent_at`, or a time out of range.
    MissingTime,
    /// Longer than the reader accepts for one line.
    TooLong,
    /// An attachment file name or channel name that could leave the attachments folder
    /// (`/`, `\`, `..`, NUL, absolute).
    UnsafeAttachmentPath,
    /// An attachment that resolves (through a symbolic link) outside the attachments folder.
    AttachmentOutsideDir,
    /// An `attachment` field that is not an object.
    BadAttachment,
    /// A `reactions` field (or entry) of an unknown shape.
    BadReactions,
}

impl RejectReason {
    /// What the reject throws away.
    pub fn scope(self) -> RejectScope {
        match self {
            RejectReason::UnsafeAttachmentPath
            | RejectReason::AttachmentOutsideDir
            | RejectReason::BadAttachment => RejectScope::Attachment,
            RejectReason::BadReactions => RejectScope::Reactions,
            _ => RejectScope::Line,
        }
    }
}

/// One reported problem, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The export file.
    pub file: PathBuf,
    /// The line number, from 1.
    pub line: u64,
    /// Why.
    pub reason: RejectReason,
    /// Details (the parser's message, the offending name).
    pub detail: String,
    /// The chat, where the line got that far.
    pub chat: Option<String>,
    /// The message id, where the line got that far.
    pub id: Option<u64>,
    /// The start of the line (lossy UTF-8, at most 200 characters).
    pub excerpt: String,
}

impl Reject {
    /// What this reject throws away.
    pub fn scope(&self) -> RejectScope {
        self.reason.scope()
    }
}

/// The line of the rejects file.
#[derive(Serialize)]
struct RejectLine<'a> {
    file: &'a Path,
    line: u64,
    scope: RejectScope,
    reason: RejectReason,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    raw: &'a str,
}

/// Collects rejects during a scan: logs them, keeps the first ones, writes them all to the
/// rejects file when there is one.
pub(crate) struct RejectLog {
    file: PathBuf,
    kept: Vec<Reject>,
    not_kept: u64,
    logged: u64,
    out: Option<(PathBuf, BufWriter<File>)>,
}

impl RejectLog {
    /// A log for `file`, writing to `rejects_path` when given (created or truncated now).
    pub(crate) fn new(file: &Path, rejects_path: Option<PathBuf>) -> Result<Self, KeybaseError> {
        let out = match rejects_path {
            Some(path) => match File::create(&path) {
                Ok(f) => Some((path, BufWriter::new(f))),
                Err(source) => return Err(KeybaseError::WriteRejects { path, source }),
            },
            None => None,
        };
        Ok(Self {
            file: file.to_owned(),
            kept: Vec::new(),
            not_kept: 0,
            logged: 0,
            out,
        })
    }

    /// Names `file` in the reports from now on.
    pub(crate) fn set_file(&mut self, file: &Path) {
        file.clone_into(&mut self.file);
    }

    /// Reports a problem of `raw` (the line's bytes) at line `line`.
    pub(crate) fn report(
        &mut self,
        line: u64,
        reason: RejectReason,
        detail: String,
        at: Option<(&str, u64)>,
        raw: &[u8],
    ) -> Result<(), KeybaseError> {
        let text = String::from_utf8_lossy(raw);
        self.logged += 1;
        if self.logged <= WARN_LIMIT {
            warn!(file = %self.file.display(), line, reason = ?reason, scope = ?reason.scope(),
                detail = %detail, "skipping unreadable export data");
            if self.logged == WARN_LIMIT {
                warn!(file = %self.file.display(), "further rejects are logged at debug level");
            }
        } else {
            debug!(file = %self.file.display(), line, reason = ?reason, detail = %detail,
                "skipping unreadable export data");
        }
        if let Some((path, out)) = &mut self.out {
            let record = RejectLine {
                file: &self.file,
                line,
                scope: reason.scope(),
                reason,
                detail: &detail,
                chat: at.map(|(c, _)| c),
                id: at.map(|(_, id)| id),
                raw: &text,
            };
            let written = serde_json::to_writer(&mut *out, &record)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(source) = written {
                return Err(KeybaseError::WriteRejects {
                    path: path.clone(),
                    source,
                });
            }
        }
        if self.kept.len() < MAX_KEPT_REPORTS {
            self.kept.push(Reject {
                file: self.file.clone(),
                line,
                reason,
                detail,
                chat: at.map(|(c, _)| c.to_owned()),
                id: at.map(|(_, id)| id),
                excerpt: text.chars().take(EXCERPT_CHARS).collect(),
            });
        } else {
            self.not_kept += 1;
        }
        Ok(())
    }

    /// Flushes the rejects file and hands back the kept rejects and how many were not kept.
    pub(crate) fn finish(self) -> Result<(Vec<Reject>, u64), KeybaseError> {
        if let Some((path, mut out)) = self.out {
            out.flush()
                .map_err(|source| KeybaseError::WriteRejects { path, source })?;
        }
        Ok((self.kept, self.not_kept))
    }
}
