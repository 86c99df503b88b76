//! Which export layout a path holds, told by its shape, and the files it is read from.
//!
//! Every layout comes down to a list of files, each in one of the record formats the scan
//! reads (keybase-export lines, raw `chat api` wrappers, kbbridge's own), each with the
//! attachments folder and file naming of the tool that wrote it (see `export/attachments.rs`).
//! The files are read one after the other as one sequence (`export/segments.rs`) into one
//! index, so every layout streams with the same flat memory, and a message met in two files
//! (several exports combined, a tool that wrote a chat twice) counts once.
//!
//! A file given directly:
//! * a keybase-export JSON Lines file ([`ExportLayout::KeybaseExport`]);
//! * a raw `chat api` dump: an array of `{"msg": …}` wrappers, `read` replies
//!   ([`ExportLayout::RawDump`]), or keybase-binding-original's `{"topic_name": …}` map
//!   ([`ExportLayout::KeybaseBindingOriginal`]), told by the first key or a leading `[`;
//! * dentropy/keybase-binding's SQLite database ([`ExportLayout::KeybaseBindingSqlite`],
//!   told by the SQLite file header; see `binding_sqlite.rs`).
//!
//! A folder is told by the names at its top, compared exactly (so `Teams` and `teams` differ
//! even where the file system ignores case):
//! * `manifest.json`: `kbbridge export`'s folder ([`ExportLayout::Kbbridge`]);
//! * `export.jsonl`: a keybase-export folder ([`ExportLayout::KeybaseExport`]);
//! * `Teams/`, `DMs/`, `SpecificTeamOut/` or `keybase_export.sqlite`: dentropy/keybase-binding's
//!   output folder ([`ExportLayout::KeybaseBinding`], `binding.rs`);
//! * `teams/` or `team_memberships.json`: keybase-binding-nodejs's folder for one user
//!   ([`ExportLayout::KeybaseBindingNodejs`], `nodejs.rs`);
//! * none of these: a folder of exports, each entry an export of its own (a file or a folder,
//!   any names), read as one: [`ExportLayout::RawDumpFolder`] when they are all raw dumps,
//!   else [`ExportLayout::Combined`] (`folder.rs`). This is how several exports of the same
//!   history are combined: side by side in one folder, named to sort oldest first; a message
//!   met in several counts once, the copy of the newest kept.
//!
//! A folder showing the signs of two layouts is refused, as is a folder of exports with an
//! entry that is none: the error names what was found and lists [`ACCEPTED_LAYOUTS`].

mod binding;
mod binding_sqlite;
mod folder;
mod kbbridge;
mod nodejs;

use std::{
    fmt, fs,
    path::{Path, PathBuf},
};

use tempfile::TempPath;

use super::{
    EXPORT_FILE_NAME, ExportFormat, ExportOptions,
    attachments::{AttachmentDir, Naming},
    format::{self, Shape},
    segments::PartSpec,
};
use crate::{error::KeybaseError, layout};

/// The layouts [`crate::KeybaseExport::open`] reads, for errors about a path that is none of
/// them.
pub const ACCEPTED_LAYOUTS: &str = "kbbridge reads a keybase-export JSON Lines file (or a \
    folder holding export.jsonl); a raw `keybase chat api` dump (JSON: an array of {\"msg\": …} \
    wrappers, `read` replies, keybase-binding-original's {\"topic_name\": …}), or a folder of \
    such dumps; a folder written by `kbbridge export` (with its manifest.json); \
    dentropy/keybase-binding's output folder (Teams/<team>/<topic>/NNN.json, \
    DMs/<name>/NNN.json, Attachments/) or its keybase_export.sqlite; keybase-binding-nodejs's \
    folder (teams/<team>/<topic>.json, teams/attachments/); or a folder holding several of \
    these, read as one export";

/// The layout of an export, as detected by [`crate::KeybaseExport::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportLayout {
    /// A keybase-export JSON Lines file, or a folder holding `export.jsonl`.
    KeybaseExport,
    /// One raw `keybase chat api` dump: an array of wrappers, `read` replies.
    RawDump,
    /// keybase-binding-original's `{"topic_name": {"<topic>": <read reply>}}` file.
    KeybaseBindingOriginal,
    /// A folder of raw dumps, any file names, one or many conversations per file.
    RawDumpFolder,
    /// A folder written by `kbbridge export`.
    Kbbridge,
    /// dentropy/keybase-binding's output folder: `Teams/<team>/<topic>/NNN.json`,
    /// `DMs/<name>/NNN.json`, `Attachments/<uid>-<sent_at_ms>-<filename>`.
    KeybaseBinding,
    /// dentropy/keybase-binding's `keybase_export.sqlite`.
    KeybaseBindingSqlite,
    /// keybase-binding-nodejs's folder: `teams/<team>/<topic>.json`,
    /// `teams/attachments/<team>.<topic>.<id>.<ext>`.
    KeybaseBindingNodejs,
    /// A folder holding several exports (of any of these layouts), read as one.
    Combined,
}

impl fmt::Display for ExportLayout {
    /// What the layout is, in a few words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportLayout::KeybaseExport => "keybase-export JSON Lines",
            ExportLayout::RawDump => "raw `keybase chat api` dump",
            ExportLayout::KeybaseBindingOriginal => "keybase-binding-original JSON",
            ExportLayout::RawDumpFolder => "folder of raw `keybase chat api` dumps",
            ExportLayout::Kbbridge => "kbbridge export folder",
            ExportLayout::KeybaseBinding => "dentropy/keybase-binding output folder",
            ExportLayout::KeybaseBindingSqlite => "dentropy/keybase-binding SQLite database",
            ExportLayout::KeybaseBindingNodejs => "keybase-binding-nodejs folder",
            ExportLayout::Combined => "several exports combined",
        })
    }
}

/// What an export is read from.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The layout detected.
    pub layout: ExportLayout,
    /// The export as reports name it: the file, the folder, or a kbbridge folder's manifest.
    pub path: PathBuf,
    /// The record format of its (first) files.
    pub format: ExportFormat,
    /// The files, in reading order.
    pub parts: Vec<PartSpec>,
    /// The attachments folders the parts point to, and how their files are named.
    pub dirs: Vec<(PathBuf, Naming)>,
    /// Temporary copies (database tables) the parts read; deleted when dropped.
    pub copies: Vec<TempPath>,
}

impl Plan {
    /// An empty plan for `path`.
    fn new(layout: ExportLayout, path: &Path, format: ExportFormat) -> Self {
        Self {
            layout,
            path: path.to_owned(),
            format,
            parts: Vec::new(),
            dirs: Vec::new(),
            copies: Vec::new(),
        }
    }

    /// Adds an attachments folder; returns its index for the parts.
    fn dir(&mut self, root: PathBuf, naming: Naming) -> usize {
        self.dirs.push((root, naming));
        self.dirs.len() - 1
    }

    /// Adds the whole of `file`, in `format`, attachments in folder `dir`.
    fn file(&mut self, file: &Path, format: ExportFormat, dir: usize) {
        self.parts.push(PartSpec::whole(file, format, dir));
    }

    /// Adds everything of `other` after what this plan has.
    fn append(&mut self, other: Plan) {
        let shift = self.dirs.len();
        self.dirs.extend(other.dirs);
        self.parts.extend(other.parts.into_iter().map(|mut p| {
            p.dir += shift;
            p
        }));
        self.copies.extend(other.copies);
    }

    /// The attachments folders, `options.attachments_dir` replacing every root when set.
    pub(crate) fn attachment_dirs(&self, options: &ExportOptions) -> Vec<AttachmentDir> {
        let dirs = self.dirs.iter().map(|(root, naming)| {
            let root = options
                .attachments_dir
                .clone()
                .unwrap_or_else(|| root.clone());
            AttachmentDir::with_naming(root, *naming)
        });
        let mut dirs: Vec<AttachmentDir> = dirs.collect();
        if dirs.is_empty() {
            let folder = self.path.parent().unwrap_or(Path::new(""));
            let root = options.attachments_dir.clone();
            dirs.push(AttachmentDir::new(
                root.unwrap_or_else(|| folder.join(layout::ATTACHMENTS_DIR)),
            ));
        }
        dirs
    }
}

/// How deep folders of exports may nest (a guard against symbolic-link loops, too).
const MAX_DEPTH: usize = 4;

/// Detects the layout of `given` and lists the files to read.
///
/// # Errors
/// [`KeybaseError::Open`] when `given` cannot be read, [`KeybaseError::UnknownLayout`] when it
/// is no layout or looks like two, [`KeybaseError::Manifest`] and [`KeybaseError::Database`]
/// when a kbbridge manifest or a keybase-binding database cannot be used.
pub(crate) fn plan(given: &Path, options: &ExportOptions) -> Result<Plan, KeybaseError> {
    let open_err = |source| KeybaseError::Open {
        path: given.to_owned(),
        source,
    };
    let meta = fs::metadata(given).map_err(open_err)?;
    match options.format {
        // A format named by the caller: the file (or the folder's export.jsonl) is read in it.
        Some(format) if format != ExportFormat::Kbbridge => {
            let path = if meta.is_dir() {
                let path = given.join(EXPORT_FILE_NAME);
                if !path.is_file() {
                    let detail = format!("the folder holds no {EXPORT_FILE_NAME}");
                    return Err(unknown(given, detail));
                }
                path
            } else {
                given.to_owned()
            };
            let layout = match format {
                ExportFormat::KeybaseExport => ExportLayout::KeybaseExport,
                _ => ExportLayout::RawDump,
            };
            Ok(single_file(&path, layout, format))
        }
        _ if meta.is_dir() => plan_folder(given, 0),
        _ => plan_file(given),
    }
}

/// A file given directly.
fn plan_file(path: &Path) -> Result<Plan, KeybaseError> {
    let shape = format::shape(path).map_err(|source| KeybaseError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(match shape {
        Shape::Sqlite => binding_sqlite::plan(path)?,
        Shape::Raw => single_file(path, ExportLayout::RawDump, ExportFormat::RawApi),
        Shape::TopicMap => single_file(
            path,
            ExportLayout::KeybaseBindingOriginal,
            ExportFormat::RawApi,
        ),
        // Unreadable lines are reported one by one, and a file of nothing but them is
        // refused once read (`NothingReadable`), naming the first.
        Shape::Lines | Shape::Unknown => single_file(
            path,
            ExportLayout::KeybaseExport,
            ExportFormat::KeybaseExport,
        ),
    })
}

/// One file, its attachments in `attachments/<channel>/<id>-<file>` beside it.
fn single_file(path: &Path, layout: ExportLayout, format: ExportFormat) -> Plan {
    let mut plan = Plan::new(layout, path, format);
    let folder = path.parent().unwrap_or(Path::new(""));
    let dir = plan.dir(folder.join(layout::ATTACHMENTS_DIR), Naming::PerChannel);
    plan.file(path, format, dir);
    plan
}

/// A sign of a layout at the top of a folder.
struct Sign {
    name: &'static str,
    is_dir: bool,
    layout: ExportLayout,
}

/// The names that tell a folder's layout.
const SIGNS: [Sign; 8] = [
    Sign {
        name: layout::MANIFEST,
        is_dir: false,
        layout: ExportLayout::Kbbridge,
    },
    Sign {
        name: EXPORT_FILE_NAME,
        is_dir: false,
        layout: ExportLayout::KeybaseExport,
    },
    Sign {
        name: binding::TEAMS,
        is_dir: true,
        layout: ExportLayout::KeybaseBinding,
    },
    Sign {
        name: binding::DMS,
        is_dir: true,
        layout: ExportLayout::KeybaseBinding,
    },
    Sign {
        name: binding::SPECIFIC_TEAM,
        is_dir: true,
        layout: ExportLayout::KeybaseBinding,
    },
    Sign {
        name: binding::DATABASE,
        is_dir: false,
        layout: ExportLayout::KeybaseBinding,
    },
    Sign {
        name: nodejs::TEAMS,
        is_dir: true,
        layout: ExportLayout::KeybaseBindingNodejs,
    },
    Sign {
        name: nodejs::MEMBERSHIPS,
        is_dir: false,
        layout: ExportLayout::KeybaseBindingNodejs,
    },
];

/// A folder: its layout told by the names at its top.
fn plan_folder(dir: &Path, depth: usize) -> Result<Plan, KeybaseError> {
    let entries = folder::entries(dir)?;
    let mut found: Vec<(&Sign, &folder::Entry)> = Vec::new();
    for sign in &SIGNS {
        let entry = entries
            .iter()
            .find(|e| e.name == sign.name && e.is_dir == sign.is_dir);
        if let Some(entry) = entry {
            found.push((sign, entry));
        }
    }
    let Some((first, _)) = found.first() else {
        return folder::plan(dir, &entries, depth);
    };
    if let Some((other, _)) = found.iter().find(|(s, _)| s.layout != first.layout) {
        let shown = |s: &Sign| {
            format!(
                "{}{} ({})",
                s.name,
                if s.is_dir { "/" } else { "" },
                s.layout
            )
        };
        let detail = format!(
            "it holds both {} and {}: a folder is read as one layout; put each export in a \
             folder of its own (a folder holding only exports is read as them combined)",
            shown(first),
            shown(other)
        );
        return Err(unknown(dir, detail));
    }
    match first.layout {
        ExportLayout::Kbbridge => kbbridge::plan(dir),
        ExportLayout::KeybaseExport => {
            let file = dir.join(EXPORT_FILE_NAME);
            Ok(single_file(
                &file,
                ExportLayout::KeybaseExport,
                ExportFormat::KeybaseExport,
            ))
        }
        ExportLayout::KeybaseBinding => binding::plan(dir),
        _ => nodejs::plan(dir),
    }
}

/// The error for a path that is no layout kbbridge reads.
fn unknown(path: &Path, detail: String) -> KeybaseError {
    KeybaseError::UnknownLayout {
        path: path.to_owned(),
        detail,
    }
}
