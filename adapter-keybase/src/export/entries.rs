//! Where the index's entries live: in memory while they are few, otherwise in an anonymous
//! temporary file (sorted runs while scanning, merged into one sorted file at the end), so the
//! reader's memory does not grow with the export: a page reads its entries back from the file
//! (a binary search of a few 24-byte reads, then one read of the page).

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fs::File,
    io::{self, BufWriter, Write},
    sync::Mutex,
};

/// Where one message's record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The message id.
    pub id: u64,
    /// Byte offset of the record.
    pub offset: u64,
    /// Interned channel.
    pub chan: u32,
    /// Record length in bytes (without the end of line).
    pub len: u32,
}

/// Bytes of one encoded entry.
pub(crate) const ENTRY_BYTES: usize = 24;

impl Entry {
    /// The sort key: channel, id, then file position (the first line of a repeated id wins).
    pub(crate) fn key(&self) -> (u32, u64, u64) {
        (self.chan, self.id, self.offset)
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..20].copy_from_slice(&self.chan.to_le_bytes());
        out[20..24].copy_from_slice(&self.len.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
        Self {
            id: u64_at(0),
            offset: u64_at(8),
            chan: u32_at(16),
            len: u32_at(20),
        }
    }
}

/// Reads `buf.len()` bytes at `offset` without moving a shared file position.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (file, buf, offset);
        Err(io::Error::other(
            "positional reads are not supported on this platform",
        ))
    }
}

/// The finished, sorted entries.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Few entries: kept in memory.
    Memory(Vec<Entry>),
    /// In a temporary file (deleted when dropped).
    Disk(Mutex<File>),
}

impl Default for Stored {
    fn default() -> Self {
        Stored::Memory(Vec::new())
    }
}

impl Stored {
    /// Entries `start..start + n`.
    pub(crate) fn range(&self, start: u64, n: usize) -> io::Result<Vec<Entry>> {
        match self {
            Stored::Memory(v) => {
                let start = usize::try_from(start).unwrap_or(usize::MAX).min(v.len());
                Ok(v[start..(start + n).min(v.len())].to_vec())
            }
            Stored::Disk(file) => {
                let mut buf = vec![0; n * ENTRY_BYTES];
                let file = file
                    .lock()
                    .map_err(|_| io::Error::other("index file lock poisoned"))?;
                read_exact_at(&file, &mut buf, start * ENTRY_BYTES as u64)?;
                Ok(buf.chunks_exact(ENTRY_BYTES).map(Entry::decode).collect())
            }
        }
    }
}

/// Entries collected during the scan: a buffer, spilled as sorted runs to a temporary file.
#[derive(Debug)]
pub(crate) struct Collector {
    buffer: Vec<Entry>,
    chunk: usize,
    spill: Option<(File, Vec<(u64, u64)>)>,
}

impl Collector {
    /// A collector keeping at most `chunk` entries in memory.
    pub(crate) fn new(chunk: usize) -> Self {
        Self {
            buffer: Vec::new(),
            chunk: chunk.max(1),
            spill: None,
        }
    }

    /// Adds an entry, spilling a sorted run when the buffer is full.
    pub(crate) fn push(&mut self, e: Entry) -> io::Result<()> {
        self.buffer.push(e);
        if self.buffer.len() >= self.chunk {
            self.spill_buffer()?;
        }
        Ok(())
    }

    fn spill_buffer(&mut self) -> io::Result<()> {
        self.buffer.sort_unstable_by_key(Entry::key);
        if self.spill.is_none() {
            self.spill = Some((tempfile::tempfile()?, Vec::new()));
        }
        let Some((file, runs)) = self.spill.as_mut() else {
            return Ok(());
        };
        let start = runs.last().map_or(0, |&(s, n)| s + n);
        let mut w = BufWriter::with_capacity(1 << 16, &*file);
        let mut bytes = [0; ENTRY_BYTES];
        for e in &self.buffer {
            e.encode(&mut bytes);
            w.write_all(&bytes)?;
        }
        w.flush()?;
        runs.push((start, self.buffer.len() as u64));
        self.buffer.clear();
        Ok(())
    }

    /// Calls `f` with every entry in key order; `keep` is true when `f` keeps it, and the kept
    /// ones are stored. Returns the store and how many were kept.
    pub(crate) fn finish(
        mut self,
        mut f: impl FnMut(&Entry) -> io::Result<bool>,
    ) -> io::Result<(Stored, u64)> {
        if self.spill.is_none() {
            self.buffer.sort_unstable_by_key(Entry::key);
            let mut kept = Vec::new();
            for e in &self.buffer {
                if f(e)? {
                    kept.push(*e);
                }
            }
            kept.shrink_to_fit();
            let n = kept.len() as u64;
            return Ok((Stored::Memory(kept), n));
        }
        if !self.buffer.is_empty() {
            self.spill_buffer()?;
        }
        let Some((spill, runs)) = self.spill.take() else {
            return Ok((Stored::default(), 0));
        };
        let out = tempfile::tempfile()?;
        let mut w = BufWriter::with_capacity(1 << 16, &out);
        let mut readers: Vec<RunReader> = runs
            .into_iter()
            .map(|(s, n)| RunReader::new(s, n))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(e) = r.next(&spill)? {
                heap.push(Reverse((e.key(), i, e.len)));
            }
        }
        let (mut kept, mut bytes) = (0u64, [0; ENTRY_BYTES]);
        while let Some(Reverse(((chan, id, offset), i, len))) = heap.pop() {
            let e = Entry {
                id,
                offset,
                chan,
                len,
            };
            if f(&e)? {
                e.encode(&mut bytes);
                w.write_all(&bytes)?;
                kept += 1;
            }
            if let Some(next) = readers[i].next(&spill)? {
                heap.push(Reverse((next.key(), i, next.len)));
            }
        }
        w.flush()?;
        drop(w);
        Ok((Stored::Disk(Mutex::new(out)), kept))
    }
}

/// Reads one sorted run of the spill file, a block at a time.
struct RunReader {
    next: u64,
    end: u64,
    block: Vec<Entry>,
    at: usize,
}

/// Entries read at once from a run.
const BLOCK: u64 = 4096;

impl RunReader {
    fn new(start: u64, n: u64) -> Self {
        Self {
            next: start,
            end: start + n,
            block: Vec::new(),
            at: 0,
        }
    }

    fn next(&mut self, file: &File) -> io::Result<Option<Entry>> {
        if self.at == self.block.len() {
            let n = BLOCK.min(self.end - self.next);
            if n == 0 {
                return Ok(None);
            }
            let mut buf = vec![0; n as usize * ENTRY_BYTES];
            read_exact_at(file, &mut buf, self.next * ENTRY_BYTES as u64)?;
            self.block = buf.chunks_exact(ENTRY_BYTES).map(Entry::decode).collect();
            self.at = 0;
            self.next += n;
        }
        let e = self.block[self.at];
        self.at += 1;
        Ok(Some(e))
    }
}
