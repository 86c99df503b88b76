//! The export folder on disk: the manifest and the conversation files, written crash-safely
//! (see [`crate::layout`]): lines are appended and synced before the manifest that commits
//! them is replaced (temporary file, sync, rename, sync of the folder).

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use super::error::{ExportError, io_at};
use crate::layout::{self, ConvState, Manifest};

/// The open export folder.
pub(crate) struct Store {
    dir: PathBuf,
    /// The manifest as last saved (plus changes being made).
    pub manifest: Manifest,
}

impl Store {
    /// Opens `dir` (creating it and its manifest on first use) and cuts every conversation
    /// file back to its committed bytes (a torn or uncommitted page of an interrupted run).
    ///
    /// # Errors
    /// A folder that is not empty and has no kbbridge manifest, a manifest that cannot be
    /// used, a conversation file shorter than its committed bytes, I/O errors.
    pub(crate) fn open(dir: &Path) -> Result<Self, ExportError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let manifest = match Manifest::load(dir).map_err(ExportError::Folder)? {
            Some(m) => m,
            None => {
                let used = fs::read_dir(dir).map_err(io_at(dir))?.next().is_some();
                if used {
                    return Err(ExportError::Folder(format!(
                        "{} is not empty and is not a kbbridge export (no {}); export into \
                         an empty or new folder",
                        dir.display(),
                        layout::MANIFEST
                    )));
                }
                Manifest::new(Utc::now())
            }
        };
        let store = Self {
            dir: dir.to_owned(),
            manifest,
        };
        store.repair()?;
        store.save_as_is()?;
        Ok(store)
    }

    /// The export folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn repair(&self) -> Result<(), ExportError> {
        for (id, conv) in &self.manifest.conversations {
            let path = self.dir.join(&conv.file);
            let len = match fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(_) if conv.committed_bytes == 0 => continue,
                Err(e) => return Err(io_at(&path)(e)),
            };
            if len < conv.committed_bytes {
                return Err(ExportError::Folder(format!(
                    "{} has {len} bytes but the manifest committed {}: the export is damaged; \
                     move it away and export again",
                    path.display(),
                    conv.committed_bytes
                )));
            }
            if len > conv.committed_bytes {
                warn!(conversation = %id, file = %path.display(), dropped = len - conv.committed_bytes,
                    "cutting off an interrupted page; it will be fetched again");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_at(&path))?;
                f.set_len(conv.committed_bytes).map_err(io_at(&path))?;
                f.sync_all().map_err(io_at(&path))?;
            }
        }
        Ok(())
    }

    /// Appends `lines` (one JSON value each, no newline) to conversation `id`'s file and syncs
    /// it; the manifest entry counts them, to be committed by the next [`Store::save`].
    pub(crate) fn append(&mut self, id: &str, lines: &[&str]) -> Result<(), ExportError> {
        if lines.is_empty() {
            return Ok(());
        }
        let file = self.state(id)?.file.clone();
        let path = self.dir.join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        f.write_all(&bytes).map_err(io_at(&path))?;
        f.sync_data().map_err(io_at(&path))?;
        let conv = self.state(id)?;
        conv.committed_bytes += bytes.len() as u64;
        conv.lines += lines.len() as u64;
        Ok(())
    }

    /// The state of conversation `id`, created from `new` when it is not there yet.
    pub(crate) fn conv(&mut self, id: &str, new: impl FnOnce() -> ConvState) -> &mut ConvState {
        self.manifest
            .conversations
            .entry(id.to_owned())
            .or_insert_with(new)
    }

    /// The state of conversation `id`, which must be in the manifest.
    pub(crate) fn state(&mut self, id: &str) -> Result<&mut ConvState, ExportError> {
        self.manifest
            .conversations
            .get_mut(id)
            .ok_or_else(|| ExportError::Folder(format!("no conversation {id} in the manifest")))
    }

    /// Commits: writes the manifest (with a new `updated_at`) crash-safely.
    pub(crate) fn save(&mut self) -> Result<(), ExportError> {
        self.manifest.updated_at = Utc::now();
        self.save_as_is()
    }

    fn save_as_is(&self) -> Result<(), ExportError> {
        write_json(&self.dir.join(layout::MANIFEST), &self.manifest)
    }

    /// Writes the section file `<name>.json` crash-safely and records when.
    pub(crate) fn write_section<T: Serialize>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), ExportError> {
        write_json(&self.dir.join(format!("{name}.json")), value)?;
        self.manifest.sections.insert(name.to_owned(), Utc::now());
        self.save()?;
        info!(section = name, "section exported");
        Ok(())
    }
}

/// Writes `value` as pretty JSON to `path` through a synced temporary file and a rename.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ExportError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| io_at(path)(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new content.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(bytes).map_err(io_at(&tmp))?;
    f.sync_all().map_err(io_at(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_at(path))?;
    sync_dir(path.parent());
    Ok(())
}

/// Syncs a folder so that a rename in it is durable (best effort: not every system allows it).
pub(crate) fn sync_dir(dir: Option<&Path>) {
    if let Some(dir) = dir {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
