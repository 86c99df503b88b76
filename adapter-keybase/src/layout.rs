//! kbbridge's own export format, as `kbbridge export` writes it and [`crate::KeybaseExport`]
//! reads it (auto-detected by its manifest):
//!
//! ```text
//! <export>/
//!   manifest.json                 format + version, per conversation: file, committed bytes,
//!                                 high-water mark, the interrupted pass (if any)
//!   chats/<conversation id>.jsonl every `read` wrapper as received ({"msg": MsgSummary} or
//!                                 {"error": …}), one per line, appended page by page
//!   attachments/<chat>/<id>-<file name>   downloaded files (file name made safe)
//!   teams.json social.json identity.json kbfs.json git.json
//! ```
//!
//! Crash safety: a page's lines are appended and synced, *then* the manifest is replaced
//! (written to a temporary file and renamed). The manifest's `committed_bytes` is the truth:
//! bytes after it (a torn or uncommitted page) are cut off by the next export and never read.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cli::requests::ChatChannel;

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's `format`.
pub const FORMAT: &str = "kbbridge-export";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// The folder of conversation files.
pub const CHATS_DIR: &str = "chats";
/// The folder of attachments.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// `manifest.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// When the first export into this folder started.
    pub created_at: DateTime<Utc>,
    /// When the manifest was last written.
    pub updated_at: DateTime<Utc>,
    /// Per conversation (by conversation ID).
    #[serde(default)]
    pub conversations: BTreeMap<String, ConvState>,
    /// When each extra section (`teams`, `social`, `identity`, `kbfs`, `git`) was last written.
    #[serde(default)]
    pub sections: BTreeMap<String, DateTime<Utc>>,
}

/// Where the export of one conversation stands.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ConvState {
    /// The chat as kbbridge names it (`acme#general`, `alice,bob`).
    pub chat: String,
    /// The channel as the service listed it.
    pub channel: ChatChannel,
    /// Its file, relative to the export folder (`chats/<id>.jsonl`).
    pub file: String,
    /// The bytes of the file that are committed (complete pages); the rest is ignored.
    pub committed_bytes: u64,
    /// Wrappers in the committed bytes.
    pub lines: u64,
    /// Every message with an id up to this one is in the file (0: none yet).
    pub high_water: u64,
    /// A pass from the newest message down to `high_water` that has not finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
    /// Attachments the service refused to download, by message id, with its message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_downloads: BTreeMap<u64, String>,
    /// The service's error when the conversation could not be read on the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An unfinished pass over a conversation (newest first).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Pass {
    /// The newest message id when the pass started: `high_water` once it completes.
    pub top: u64,
    /// The cursor of the next (older) page.
    pub next: String,
}

impl Manifest {
    /// A new, empty manifest.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            created_at: now,
            updated_at: now,
            conversations: BTreeMap::new(),
            sections: BTreeMap::new(),
        }
    }

    /// Reads `<dir>/manifest.json`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// A manifest that cannot be read, is not kbbridge's, or is from a newer version: the
    /// message says which and what to do.
    pub fn load(dir: &Path) -> Result<Option<Self>, String> {
        let path = dir.join(MANIFEST);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let manifest: Self = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is not a kbbridge export manifest ({e}); move the folder away or export \
                 into another one",
                path.display()
            )
        })?;
        if manifest.format != FORMAT {
            return Err(format!(
                "{} has format {:?}, not {FORMAT:?}",
                path.display(),
                manifest.format
            ));
        }
        if manifest.version > VERSION {
            return Err(format!(
                "{} is format version {}, newer than this kbbridge reads ({VERSION}); use a \
                 newer kbbridge",
                path.display(),
                manifest.version
            ));
        }
        Ok(Some(manifest))
    }

    /// The committed part of each conversation file, ordered by chat then ID.
    pub fn segments(&self, dir: &Path) -> Vec<(PathBuf, u64)> {
        let mut convs: Vec<&ConvState> = self.conversations.values().collect();
        convs.sort_by(|a, b| a.chat.cmp(&b.chat).then(a.file.cmp(&b.file)));
        convs
            .into_iter()
            .filter(|c| c.committed_bytes > 0)
            .map(|c| (dir.join(&c.file), c.committed_bytes))
            .collect()
    }
}

/// The file of conversation `id`, relative to the export folder.
pub fn chat_file(id: &str) -> String {
    format!("{CHATS_DIR}/{id}.jsonl")
}
