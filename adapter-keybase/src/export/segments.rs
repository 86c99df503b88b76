//! The bytes an export is read from: one file, or many files read as one sequence (a folder
//! of dumps, a tool's tree of files, several exports combined, and kbbridge's own format, of
//! which only each file's committed prefix counts). Index offsets are positions in that
//! sequence; each part knows its format and its attachments folder, so every record is read
//! back and resolved as the file it came from.

use std::{
    fs::{self, File},
    io::{self, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::SystemTime,
};

use super::ExportFormat;

/// A file to read, before it is placed in the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartSpec {
    /// The file.
    pub path: PathBuf,
    /// What reports call it: the file, or for a database copy the database and its table.
    pub label: PathBuf,
    /// How its records are written.
    pub format: ExportFormat,
    /// Its attachments folder (an index into the export's folders).
    pub dir: usize,
    /// `Some(bytes)`: only that prefix counts and the file may grow behind it (kbbridge's
    /// committed bytes); `None`: the whole file, which must not change.
    pub committed: Option<u64>,
    /// Whether each line is a document of its own (a database row), so that a line left
    /// unclosed is reported alone instead of swallowing the lines after it.
    pub one_per_line: bool,
}

impl PartSpec {
    /// The whole of `path`, in `format`, its attachments in folder `dir`.
    pub(crate) fn whole(path: &Path, format: ExportFormat, dir: usize) -> Self {
        Self {
            path: path.to_owned(),
            label: path.to_owned(),
            format,
            dir,
            committed: None,
            one_per_line: false,
        }
    }
}

/// One file's share of the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    /// The file.
    pub path: PathBuf,
    /// What reports call it.
    pub label: PathBuf,
    /// Where its bytes start in the sequence.
    pub base: u64,
    /// How many of its bytes belong to the sequence.
    pub len: u64,
    /// How its records are written.
    pub format: ExportFormat,
    /// Its attachments folder (an index into the export's folders).
    pub dir: usize,
    /// Whether each line is a document of its own.
    pub one_per_line: bool,
    /// Whether the file must not change at all (else only its prefix must stay).
    exact: bool,
    modified: Option<SystemTime>,
}

/// The files, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Segments {
    parts: Vec<Part>,
}

impl Segments {
    /// The files of `specs`, in that order.
    ///
    /// # Errors
    /// When a whole file's size cannot be read.
    pub(crate) fn new(specs: Vec<PartSpec>) -> io::Result<Self> {
        let mut base = 0;
        let mut parts = Vec::with_capacity(specs.len());
        for spec in specs {
            let (len, exact, modified) = match spec.committed {
                Some(len) => (len, false, None),
                None => {
                    let meta = fs::metadata(&spec.path).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", spec.path.display()))
                    })?;
                    (meta.len(), true, meta.modified().ok())
                }
            };
            parts.push(Part {
                path: spec.path,
                label: spec.label,
                base,
                len,
                format: spec.format,
                dir: spec.dir,
                one_per_line: spec.one_per_line,
                exact,
                modified,
            });
            base += len;
        }
        Ok(Self { parts })
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

    /// What changed since the segments were taken, if anything: a whole file's size or
    /// modification time; a committed file shorter than its committed bytes.
    pub(crate) fn changed(&self) -> io::Result<Option<String>> {
        for part in &self.parts {
            let meta = fs::metadata(&part.path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", part.path.display())))?;
            if part.exact && (meta.len() != part.len || meta.modified().ok() != part.modified) {
                let what = if self.parts.len() == 1 {
                    "its size or modification time differs".to_owned()
                } else {
                    format!(
                        "{}: its size or modification time differs",
                        part.path.display()
                    )
                };
                return Ok(Some(what));
            }
            if !part.exact && meta.len() < part.len {
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

    /// The part holding position `pos` (a record's offset).
    pub(crate) fn part_at(&self, pos: u64) -> Option<&Part> {
        self.find(pos).map(|i| &self.parts[i])
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
    fn reads_committed_prefixes_and_whole_files_as_one_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let mut specs = Vec::new();
        for (i, (name, text, len)) in [
            ("a", "abcXX", Some(3)),
            ("b", "", Some(0)),
            ("c", "defgYY", Some(4)),
            ("d", "hi", None),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(name);
            File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let mut spec = PartSpec::whole(&path, ExportFormat::RawApi, i);
            spec.committed = len;
            specs.push(spec);
        }
        let segments = Segments::new(specs).unwrap();
        assert_eq!(segments.part_at(7).map(|p| p.dir), Some(3));
        assert_eq!(segments.part_at(3).map(|p| p.dir), Some(2), "b is empty");
        assert!(segments.part_at(9).is_none());
        let mut all = String::new();
        segments.reader().read_to_string(&mut all).unwrap();
        assert_eq!(all, "abcdefghi");
        let mut r = segments.reader();
        let mut two = [0; 2];
        r.seek(SeekFrom::Start(2)).unwrap();
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"cd");
        r.seek(SeekFrom::Start(5)).unwrap();
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"fg");
        assert_eq!(segments.changed().unwrap(), None);
        std::fs::write(dir.path().join("c"), "defgYYZZ").unwrap();
        assert_eq!(
            segments.changed().unwrap(),
            None,
            "a committed file may grow"
        );
        File::create(dir.path().join("c")).unwrap();
        assert!(segments.changed().unwrap().is_some());
        File::create(dir.path().join("c"))
            .unwrap()
            .write_all(b"defg")
            .unwrap();
        std::fs::write(dir.path().join("d"), "h").unwrap();
        assert!(
            segments.changed().unwrap().unwrap().contains("d:"),
            "a whole file must not change"
        );
    }
}
