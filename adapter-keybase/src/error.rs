//! The Keybase adapter's error type, and its one classification into [`AdapterError`].

use std::{io, path::PathBuf};

use bridge_core::AdapterError;

/// Everything that can go wrong reading a Keybase export.
///
/// Bad *lines* are not errors: they are counted and listed in the reader's rejects (see
/// [`crate::export::Reject`]). These errors are about the export as a whole or about a request.
#[derive(Debug, thiserror::Error)]
pub enum KeybaseError {
    /// The export file (or the folder supposed to hold it) cannot be opened.
    #[error("cannot open the Keybase export {}", .path.display())]
    Open {
        /// The file or folder that was asked for.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A `kbbridge export` folder whose manifest cannot be used.
    #[error("cannot use the kbbridge export manifest {}: {detail}", .path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Reading the export failed part-way.
    #[error("cannot read the Keybase export {}", .path.display())]
    Read {
        /// The export file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The rejects file asked for by `write_rejects` cannot be written.
    #[error("cannot write the rejects file {}", .path.display())]
    WriteRejects {
        /// The rejects file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Nothing in the file could be read: it is empty, or it is not an export kbbridge knows.
    #[error("nothing could be read from {}: {detail}; {}", .path.display(), crate::export::ACCEPTED_LAYOUTS)]
    NothingReadable {
        /// The file read (or the folder given, when it holds no export).
        path: PathBuf,
        /// What was found instead (empty, every line rejected and why).
        detail: String,
    },
    /// A path that is none of the layouts kbbridge reads, or that looks like two of them (a
    /// folder holding the files of two tools).
    #[error("{} is not an export kbbridge can read: {detail}; {}", .path.display(), crate::export::ACCEPTED_LAYOUTS)]
    UnknownLayout {
        /// The file or folder given (or the folder inside it that is the problem).
        path: PathBuf,
        /// What was found, and what to do.
        detail: String,
    },
    /// dentropy/keybase-binding's SQLite database cannot be read.
    #[error("cannot read the keybase-binding database {}: {detail}", .path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The export file was modified after it was opened, so its index no longer fits it.
    #[error("the Keybase export {} changed since it was opened ({detail}); open it again", .path.display())]
    Changed {
        /// The export file.
        path: PathBuf,
        /// What no longer matches.
        detail: String,
    },
    /// A chat that is not in the export was asked for.
    #[error("no chat `{chat}` in the Keybase export {}; it has: {known}", .path.display())]
    UnknownChat {
        /// The chat asked for.
        chat: String,
        /// The export file.
        path: PathBuf,
        /// The chats the export does have, comma-separated (shortened when there are many).
        known: String,
    },
    /// A cursor that this reader did not write (it writes decimal message IDs).
    #[error("invalid cursor `{cursor}` for {chat}: expected a decimal Keybase message id")]
    BadCursor {
        /// The chat being read.
        chat: String,
        /// The cursor as received.
        cursor: String,
    },
    /// The background task reading a page did not finish (the runtime is shutting down).
    #[error("the export reading task failed: {0}")]
    Task(String),
}

impl From<KeybaseError> for AdapterError {
    /// The one place Keybase errors are classified: a task that did not finish may work when
    /// retried; everything else (unreadable or changed file, unknown chat, foreign cursor) stops
    /// the link with a message saying what to fix.
    fn from(e: KeybaseError) -> Self {
        match e {
            KeybaseError::Task(_) => AdapterError::Transient(Box::new(e)),
            KeybaseError::Open { .. }
            | KeybaseError::Manifest { .. }
            | KeybaseError::NothingReadable { .. }
            | KeybaseError::UnknownLayout { .. }
            | KeybaseError::Database { .. }
            | KeybaseError::Read { .. }
            | KeybaseError::WriteRejects { .. }
            | KeybaseError::Changed { .. }
            | KeybaseError::UnknownChat { .. }
            | KeybaseError::BadCursor { .. } => AdapterError::Fatal(Box::new(e)),
        }
    }
}
