//! How an export is read.

use std::path::PathBuf;

use super::ExportFormat;

/// How an export is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// The attachments folder; `None` = where the export's layout keeps them (`attachments/`
    /// next to a keybase-export file or raw dump, `Attachments/` in dentropy/keybase-binding's
    /// folder…). When set, it replaces every folder of an export combining several, each
    /// export's files still looked for under its own naming.
    pub attachments_dir: Option<PathBuf>,
    /// Whether system and headline lines are replayed as notices (default) or skipped.
    pub notices: bool,
    /// Whether to write every reject to `<export stem>.rejects.jsonl` next to the export.
    pub write_rejects: bool,
    /// Lines (raw dump entries) longer than this are rejected without being held in memory
    /// (default 16 MiB).
    pub max_line_bytes: usize,
    /// The record format, when known; `None` (default) detects the layout by shape. A format
    /// other than [`ExportFormat::Kbbridge`] reads the file given (or a folder's
    /// `export.jsonl`) in that format, whatever it looks like.
    pub format: Option<ExportFormat>,
    /// Index entries (24 bytes each) kept in memory; more go to a temporary file (default
    /// 131,072, 3 MiB). Raw dumps' edit, reaction and delete references get a quarter of this
    /// each, likewise.
    pub index_memory: usize,
    /// Whether an export in which nothing could be read (empty, blank, every line rejected)
    /// opens anyway, with no chat, instead of failing with
    /// [`crate::KeybaseError::NothingReadable`] (default `false`: such a file is almost
    /// always the wrong file).
    pub allow_empty: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            attachments_dir: None,
            notices: true,
            write_rejects: false,
            max_line_bytes: 16 << 20,
            format: None,
            index_memory: super::index::MEMORY_ENTRIES,
            allow_empty: false,
        }
    }
}
