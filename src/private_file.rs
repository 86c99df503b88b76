//! Files kbbridge writes that hold secrets (the demo's appservice registration, with both
//! Matrix tokens): readable by their owner only.

use std::{
    fs::{self, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

/// Writes `contents` to `path` as a file only its owner can read or write (mode 0600 on Unix).
///
/// The file is created with that mode (never widened then narrowed, so no other user can open
/// it in between): a new file beside `path` is created, written, synced, and renamed over
/// `path`. An existing `path` with a wider mode is thereby replaced, not reused.
///
/// # Errors
/// When the folder cannot be written to.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    // A leftover of a run that crashed here holds the same kind of content: replace it.
    match fs::remove_file(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    match written.and_then(|()| fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// `path` with `.tmp` appended to its file name.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reg.yaml");
        write_private(&path, b"as_token: x\n").unwrap();
        write_private(&path, b"as_token: y\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"as_token: y\n");
        assert!(!temp_path(&path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_it_even_when_it_existed_with_a_wider_mode() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reg.yaml");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
