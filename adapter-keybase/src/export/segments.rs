//! The bytes an export is read from: one file (keybase-export lines, raw dumps), or the
//! committed prefixes of many files read as one sequence (kbbridge's own format, one file per
//! conversation). Index offsets are positions in that sequence.

use std::{
    fs::{self, File},
    io::{self, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::SystemTime,
};

/// One file's share of the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    /// The file.
    pub path: PathBuf,
    /// Where its bytes start in the sequence.
    pub base: u64,
    /// How many of its bytes belong to the sequence.
    pub len: u64,
    modified: Option<SystemTime>,
}

/// The files, in order.
#[derive(Clone, Debug)]
pub(crate) struct Segments {
    parts: Vec<Part>,
    /// A single file must not change at all; committed prefixes may grow behind them.
    exact: bool,
}

impl Segments {
    /// The whole of one file.
    pub(crate) fn single(path: &Path) -> io::Result<Self> {
        let meta = fs::metadata(path)?;
        Ok(Self {
            parts: vec![Part {
                path: path.to_owned(),
                base: 0,
                len: meta.len(),
                modified: meta.modified().ok(),
            }],
            exact: true,
        })
    }

    /// The first `len` bytes of each file.
    pub(crate) fn committed(files: Vec<(PathBuf, u64)>) -> Self {
        let mut base = 0;
        let parts = files
            .into_iter()
            .map(|(path, len)| {
                let part = Part {
                    path,
                    base,
                    len,
                    modified: None,
                };
                base += len;
                part
            })
            .collect();
        Self {
            parts,
            exact: false,
        }
    }

    /// The files.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// A reader over the whole sequence.
    pub(crate) fn reader(&self) -> SegmentReader<'_> {
        SegmentReader {
            segments: self,
            pos: 0,
            open: None,
        }
    }

    /// What changed since the segments were taken, if anything: a single file's size or
    /// modification time; a committed file shorter than its committed bytes.
    pub(crate) fn changed(&self) -> io::Result<Option<String>> {
        for part in &self.parts {
            let meta = fs::metadata(&part.path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", part.path.display())))?;
            if self.exact && (meta.len() != part.len || meta.modified().ok() != part.modified) {
                return Ok(Some("its size or modification time differs".to_owned()));
            }
            if !self.exact && meta.len() < part.len {
                return Ok(Some(format!(
                    "{} is shorter ({} bytes) than its {} committed bytes",
                    part.path.display(),
                    meta.len(),
                    part.len
                )));
            }
        }
        Ok(None)
    }

    /// The part holding position `pos`.
    fn find(&self, pos: u64) -> Option<usize> {
        let i = self.parts.partition_point(|p| p.base + p.len <= pos);
        (i < self.parts.len()).then_some(i)
    }

    fn total(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.base + p.len)
    }
}

/// Reads the sequence, opening files as it goes.
pub(crate) struct SegmentReader<'a> {
    segments: &'a Segments,
    pos: u64,
    open: Option<(usize, File)>,
}

impl Read for SegmentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(i) = self.segments.find(self.pos) else {
            return Ok(0);
        };
        let part = &self.segments.parts[i];
        let with_path =
            |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", part.path.display()));
        let local = self.pos - part.base;
        if self.open.as_ref().is_none_or(|(j, _)| *j != i) {
            let mut file = File::open(&part.path).map_err(with_path)?;
            file.seek(SeekFrom::Start(local)).map_err(with_path)?;
            self.open = Some((i, file));
        }
        let Some((_, file)) = self.open.as_mut() else {
            return Ok(0);
        };
        let room = usize::try_from(part.len - local)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = file.read(&mut buf[..room]).map_err(with_path)?;
        if n == 0 && room > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} ended before its committed bytes", part.path.display()),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SegmentReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.segments.total().checked_add_signed(d),
        };
        let target = target.ok_or_else(|| io::Error::other("seek before the start"))?;
        if target != self.pos {
            if let Some((i, file)) = self.open.as_mut() {
                let part = &self.segments.parts[*i];
                if (part.base..part.base + part.len).contains(&target) {
                    file.seek(SeekFrom::Start(target - part.base))?;
                } else {
                    self.open = None;
                }
            }
            self.pos = target;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_committed_prefixes_as_one_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (name, text, len) in [("a", "abcXX", 3), ("b", "", 0), ("c", "defgYY", 4)] {
            let path = dir.path().join(name);
            File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            files.push((path, len));
        }
        let segments = Segments::committed(files);
        let mut all = String::new();
        segments.reader().read_to_string(&mut all).unwrap();
        assert_eq!(all, "abcdefg");
        let mut r = segments.reader();
        let mut two = [0; 2];
        r.seek(SeekFrom::Start(2)).unwrap();
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"cd");
        r.seek(SeekFrom::Start(5)).unwrap();
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"fg");
        assert_eq!(segments.changed().unwrap(), None);
        File::create(dir.path().join("c")).unwrap();
        assert!(segments.changed().unwrap().is_some());
    }
}
