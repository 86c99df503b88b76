//! What can stop `kbbridge export`.

use std::path::PathBuf;

use crate::cli::ClientError;

/// An error that stops an export. What was committed before it stays, and the next run resumes
/// from there.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Talking to Keybase failed (the process, a timeout; service errors on single
    /// conversations are recorded in the manifest instead).
    #[error(
        "the export stopped (what was exported so far is kept; run the export again to resume)"
    )]
    Client(#[from] ClientError),
    /// The export folder cannot be written.
    #[error(
        "cannot write {} (check the disk space and permissions)",
        .path.display()
    )]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds something that is not a usable kbbridge export.
    #[error("{0}")]
    Folder(String),
}

/// `map_err` helper: an I/O error on `path`.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.into();
    move |source| ExportError::Io { path, source }
}
