//! How an export is read.

use std::path::PathBuf;

use super::ExportFormat;

/// How an export is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// The attachments folder; `None` = `attachments/` next to the export file.
    pub attachments_dir: Option<PathBuf>,
    /// Whether system and headline lines are replayed as notices (default) or skipped.
    pub notices: bool,
    /// Whether to write every reject to `<export stem>.rejects.jsonl` next to the export.
    pub write_rejects: bool,
    /// Lines (raw dump entries) longer than this are rejected without being held in memory
    /// (default 16 MiB).
    pub max_line_bytes: usize,
    /// The format, when known; `None` (default) detects it from the file's first bytes.
    pub format: Option<ExportFormat>,
    /// Index entries (24 bytes each) kept in memory; more go to a temporary file (default
    /// 131,072, 3 MiB).
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
