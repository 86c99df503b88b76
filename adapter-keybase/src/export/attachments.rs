//! Downloaded attachments, found where each layout keeps them, without ever leaving the
//! attachments folder:
//!
//! * keybase-export, raw dumps, kbbridge: `<dir>/<channel_name>/<msg id>-<filename>`;
//! * dentropy/keybase-binding: `<dir>/<sender uid>-<sent_at_ms>-<filename>`, spaces in the
//!   file name written as `_` (what its downloader passes to `keybase chat download -o`);
//! * keybase-binding-nodejs: `<dir>/<team>.<topic>.<msg id>.<extension>`, the extension being
//!   what follows the file name's last `.` (the whole name when it has none), as it writes them.
//!
//! Names come from the export, so they are untrusted: a channel or file name with `/`, `\`,
//! `..`, NUL, a root or a drive prefix is refused before any path is built, and a file that
//! resolves (through a symbolic link) outside the folder is refused after. Only the canonical
//! path of a regular file inside the folder is ever handed out.

use std::{
    fs,
    path::{Component, Path, PathBuf},
};

use super::{line::Record, rejects::RejectReason};
use bridge_core::safe_file_name;

/// Where an attachment is, or why it is not used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Located {
    /// A regular file inside the folder: its canonical path and size.
    Found {
        /// Canonical path, inside the canonical attachments folder.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
    },
    /// Not there (or not a regular file); the path looked at.
    Missing(PathBuf),
    /// A regular file inside the folder that cannot be opened (permissions): its path, size
    /// and the error.
    Unreadable {
        /// Canonical path, inside the canonical attachments folder.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
        /// Why it cannot be opened.
        error: String,
    },
    /// Refused: the names would leave the folder.
    Unsafe(RejectReason, String),
}

/// How a layout names the attachment files it downloaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Naming {
    /// `<channel_name>/<msg id>-<filename>` (keybase-export, raw dumps, kbbridge).
    #[default]
    PerChannel,
    /// `<sender uid>-<sent_at_ms>-<filename with spaces as _>` (dentropy/keybase-binding).
    SenderTime,
    /// `<team>.<topic>.<msg id>.<extension>` (keybase-binding-nodejs).
    TopicId,
}

/// The attachments folder of an export.
#[derive(Debug)]
pub(crate) struct AttachmentDir {
    root: PathBuf,
    canonical: Option<PathBuf>,
    naming: Naming,
}

impl AttachmentDir {
    /// The folder at `root` (which may not exist: every attachment is then missing), files
    /// named as keybase-export names them.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self::with_naming(root, Naming::PerChannel)
    }

    /// The folder at `root`, files named by `naming`.
    pub(crate) fn with_naming(root: PathBuf, naming: Naming) -> Self {
        let canonical = fs::canonicalize(&root).ok().filter(|p| p.is_dir());
        Self {
            root,
            canonical,
            naming,
        }
    }

    /// The folder as configured.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the folder exists.
    pub(crate) fn exists(&self) -> bool {
        self.canonical.is_some()
    }

    /// Finds `rec`'s attachment, whose export file name is `filename`, where this folder's
    /// layout puts it.
    pub(crate) fn find(&self, rec: &Record, filename: &str) -> Located {
        match self.naming {
            Naming::PerChannel => self.locate(&rec.channel, rec.id, filename),
            Naming::SenderTime => {
                // The downloader formats a missing uid as Python's `None`.
                let uid = rec.sender_uid.as_deref().unwrap_or("None");
                let ms = rec.sent_at.timestamp_millis();
                self.locate_named(&format!("{uid}-{ms}-{}", filename.replace(' ', "_")))
            }
            Naming::TopicId => {
                // keybase-binding-nodejs downloads team channels' attachments only.
                let Some((team, topic)) = rec.chat.split_once('#') else {
                    return Located::Missing(self.root.clone());
                };
                let ext = filename.rsplit('.').next().unwrap_or(filename);
                self.locate_named(&format!("{team}.{topic}.{}.{ext}", rec.id))
            }
        }
    }

    /// Finds message `id`'s attachment `filename` in channel `channel`
    /// (`<channel>/<id>-<filename>`).
    ///
    /// A file name that could leave the folder is never joined to a path; the file is looked
    /// for under its safe name instead (`kbbridge export` stores it so: [`safe_file_name`]),
    /// and the name is refused only when no such file is there.
    pub(crate) fn locate(&self, channel: &str, id: u64, filename: &str) -> Located {
        if let Err(why) = plain_name(channel) {
            let detail = format!("attachment channel name {channel:?} {why}");
            return Located::Unsafe(RejectReason::UnsafeAttachmentPath, detail);
        }
        if let Err(why) = plain_name(filename) {
            let safe = safe_file_name(filename);
            if plain_name(&safe).is_ok() {
                match self.resolve(self.root.join(channel).join(format!("{id}-{safe}"))) {
                    found @ (Located::Found { .. } | Located::Unsafe(..)) => return found,
                    Located::Missing(_) | Located::Unreadable { .. } => {}
                }
            }
            let detail = format!(
                "attachment file name {filename:?} {why}, and no file {id}-{safe} is in the \
                 attachments folder"
            );
            return Located::Unsafe(RejectReason::UnsafeAttachmentPath, detail);
        }
        self.resolve(self.root.join(channel).join(format!("{id}-{filename}")))
    }

    /// Finds the file `name`, right in the folder; a name that could leave it is refused.
    fn locate_named(&self, name: &str) -> Located {
        if let Err(why) = plain_name(name) {
            let detail = format!("attachment file name {name:?} {why}");
            return Located::Unsafe(RejectReason::UnsafeAttachmentPath, detail);
        }
        self.resolve(self.root.join(name))
    }

    /// What is at `path` (built from names already checked to be plain).
    fn resolve(&self, path: PathBuf) -> Located {
        let Some(root) = &self.canonical else {
            return Located::Missing(path);
        };
        let Ok(real) = fs::canonicalize(&path) else {
            return Located::Missing(path);
        };
        if !real.starts_with(root) {
            let detail = format!(
                "{} resolves to {}, outside {}",
                path.display(),
                real.display(),
                root.display()
            );
            return Located::Unsafe(RejectReason::AttachmentOutsideDir, detail);
        }
        match fs::metadata(&real) {
            // Opened once here, so an unreadable file is known before a sink tries to send it.
            Ok(meta) if meta.is_file() => match fs::File::open(&real) {
                Ok(_) => Located::Found {
                    path: real,
                    size: meta.len(),
                },
                Err(e) => Located::Unreadable {
                    path: real,
                    size: meta.len(),
                    error: e.kind().to_string(),
                },
            },
            _ => Located::Missing(path),
        }
    }
}

/// Checks that `name` is one plain path component that cannot leave its folder.
pub(crate) fn plain_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.contains(['/', '\\']) {
        return Err("contains a path separator");
    }
    if name.contains('\0') {
        return Err("contains a NUL byte");
    }
    if name.contains("..") {
        return Err("contains `..`");
    }
    let path = Path::new(name);
    if path.is_absolute() || path.has_root() {
        return Err("is absolute");
    }
    let mut parts = path.components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(part)), None) if part == name => Ok(()),
        _ => Err("is not a plain file name"),
    }
}

/// The MIME type for a file name's extension, for common chat attachments.
pub(crate) fn mime_for(filename: &str) -> Option<&'static str> {
    let (_, ext) = filename.rsplit_once('.')?;
    let mime = match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" | "jfif" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "aac" => "audio/aac",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        _ => return None,
    };
    Some(mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_could_leave_the_folder() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "x\0y",
            "a..b",
        ] {
            assert!(plain_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "sunset.jpg",
            "acme#general",
            "alice,bob",
            ".hidden",
            "a b.txt",
        ] {
            assert_eq!(plain_name(good), Ok(()), "{good:?} refused");
        }
    }

    #[test]
    fn guesses_mime_types() {
        assert_eq!(mime_for("A.PNG"), Some("image/png"));
        assert_eq!(mime_for("notes.txt"), Some("text/plain"));
        assert_eq!(mime_for("noext"), None);
        assert_eq!(mime_for("x.unknown"), None);
    }
}
