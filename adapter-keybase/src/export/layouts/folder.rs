//! A folder of exports: a folder with no layout's sign at its top, each entry an export of its
//! own, read as one. This is how a folder of raw `chat api` dumps is read (any file names, one
//! or many conversations per file), and how several exports of the same history are combined:
//! the user puts them (files or folders) side by side in one folder and names that folder.
//!
//! * Entries are read in reverse name order; hidden ones (`.…`), `*.rejects.jsonl` (written by
//!   kbbridge itself) and empty files are passed over, and a folder named `attachments` is the
//!   attachments folder of the files beside it (`attachments/<channel>/<id>-<filename>`).
//! * A file must look like an export by its first bytes (keybase-export lines, a raw dump, a
//!   keybase-binding database); a subfolder must be a layout of its own, or a folder of exports
//!   in turn. Anything else is refused, naming the entry.
//! * A message met in several of them counts once: the copy from the entry that sorts last is
//!   replayed (name exports so that they sort oldest first, `2021-…`, `2024-…`: the newest
//!   copy has the latest text and reactions); edits and deletes from every entry apply to it.

use std::{
    fs,
    path::{Path, PathBuf},
};

use tracing::debug;

use super::{ExportLayout, MAX_DEPTH, Plan, binding_sqlite, plan_folder, unknown};
use crate::{
    error::KeybaseError,
    export::{
        ExportFormat,
        attachments::Naming,
        format::{self, Shape},
    },
    layout,
};

/// One entry of a folder.
#[derive(Debug)]
pub(super) struct Entry {
    /// Its name (lossy UTF-8).
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Whether it is a folder (through symbolic links).
    pub is_dir: bool,
    /// Whether it is a regular file (through symbolic links).
    pub is_file: bool,
    /// Its size, for files.
    pub len: u64,
}

/// The entries of `dir`, by name.
pub(super) fn entries(dir: &Path) -> Result<Vec<Entry>, KeybaseError> {
    let open_err = |source| KeybaseError::Open {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(open_err)? {
        let entry = entry.map_err(open_err)?;
        let path = entry.path();
        // Through symbolic links; a dangling one is neither file nor folder.
        let meta = fs::metadata(&path).ok();
        out.push(Entry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: meta.as_ref().is_some_and(fs::Metadata::is_dir),
            is_file: meta.as_ref().is_some_and(fs::Metadata::is_file),
            len: meta.as_ref().map_or(0, fs::Metadata::len),
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Whether `entry` is read as an export (not hidden, not the attachments folder, not a rejects
/// file).
fn is_member(entry: &Entry) -> bool {
    if entry.name.starts_with('.') {
        return false;
    }
    if entry.is_dir {
        return entry.name != layout::ATTACHMENTS_DIR;
    }
    !entry.name.ends_with(".rejects.jsonl")
}

/// Reads `dir` (with `entries`) as a folder of exports.
pub(super) fn plan(dir: &Path, entries: &[Entry], depth: usize) -> Result<Plan, KeybaseError> {
    if depth >= MAX_DEPTH {
        let detail = format!("folders of exports nest more than {MAX_DEPTH} deep here");
        return Err(unknown(dir, detail));
    }
    // Read last first: where a message is met twice, the index keeps the copy read first.
    let members = entries.iter().rev().filter(|e| is_member(e));
    let mut plan = Plan::new(ExportLayout::Combined, dir, ExportFormat::KeybaseExport);
    let mut layouts: Vec<ExportLayout> = Vec::new();
    let mut beside = None;
    for entry in members {
        if entry.is_dir {
            let member = plan_folder(&entry.path, depth + 1)?;
            layouts.push(member.layout);
            if plan.parts.is_empty() {
                plan.format = member.format;
            }
            plan.append(member);
            continue;
        }
        if !entry.is_file {
            let detail = format!("{} is neither a file nor a folder", entry.name);
            return Err(unknown(dir, detail));
        }
        if entry.len == 0 {
            debug!(file = %entry.path.display(), "empty file in a folder of exports: passed over");
            continue;
        }
        let shape = format::shape(&entry.path).map_err(|source| KeybaseError::Open {
            path: entry.path.clone(),
            source,
        })?;
        let (layout, format) = match shape {
            Shape::Sqlite => {
                let member = binding_sqlite::plan(&entry.path)?;
                layouts.push(member.layout);
                plan.append(member);
                continue;
            }
            Shape::Raw => (ExportLayout::RawDump, ExportFormat::RawApi),
            Shape::TopicMap => (ExportLayout::KeybaseBindingOriginal, ExportFormat::RawApi),
            Shape::Lines => (ExportLayout::KeybaseExport, ExportFormat::KeybaseExport),
            Shape::Unknown => {
                let detail = format!(
                    "{} is not an export: its first line is neither a keybase-export record nor \
                     a `keybase chat api` reply (a folder without a layout's own files is read \
                     as a folder of exports, and each entry must be one)",
                    entry.name
                );
                return Err(unknown(dir, detail));
            }
        };
        let dir_index = *beside
            .get_or_insert_with(|| plan.dir(dir.join(layout::ATTACHMENTS_DIR), Naming::PerChannel));
        if plan.parts.is_empty() {
            plan.format = format;
        }
        plan.file(&entry.path, format, dir_index);
        layouts.push(layout);
    }
    plan.layout = match layouts.as_slice() {
        [] => {
            let detail = "the folder holds no export (and none of the files or folders that \
                          tell a layout)"
                .to_owned();
            return Err(unknown(dir, detail));
        }
        all if all.iter().all(|l| {
            matches!(
                l,
                ExportLayout::RawDump
                    | ExportLayout::KeybaseBindingOriginal
                    | ExportLayout::RawDumpFolder
            )
        }) =>
        {
            ExportLayout::RawDumpFolder
        }
        [one] => *one,
        _ => ExportLayout::Combined,
    };
    Ok(plan)
}
