//! Sorted fixed-size records (the index's entries, the raw dumps' edit, reaction and delete
//! references) kept in memory while they are few, otherwise in an anonymous temporary file
//! (sorted runs while scanning, merged into one sorted file at the end), so the reader's memory
//! does not grow with the export: a lookup is a binary search of a few small reads, a range one
//! read.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fs::File,
    io::{self, BufWriter, Write},
    sync::Mutex,
};

/// A record of a fixed size, sorted by its key.
pub(crate) trait Fixed: Copy {
    /// Bytes of one encoded record.
    const BYTES: usize;
    /// What records are sorted by.
    type Key: Ord + Copy;
    /// The sort key.
    fn key(&self) -> Self::Key;
    /// Writes the record into `out` (`BYTES` long).
    fn encode(&self, out: &mut [u8]);
    /// Reads a record from `b` (`BYTES` long).
    fn decode(b: &[u8]) -> Self;
}

/// The little-endian `u64` at `i` of `b`.
pub(crate) fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]))
}

/// The little-endian `u32` at `i` of `b`.
pub(crate) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]))
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

/// The finished, sorted records.
#[derive(Debug)]
pub(crate) enum Stored<T> {
    /// Few records: kept in memory.
    Memory(Vec<T>),
    /// In a temporary file (deleted when dropped): the file and how many records it holds.
    Disk(Mutex<File>, u64),
}

impl<T> Default for Stored<T> {
    fn default() -> Self {
        Stored::Memory(Vec::new())
    }
}

impl<T: Fixed> Stored<T> {
    /// How many records there are.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Stored::Memory(v) => v.len() as u64,
            Stored::Disk(_, n) => *n,
        }
    }

    /// Records `start..start + n` (fewer at the end).
    pub(crate) fn range(&self, start: u64, n: usize) -> io::Result<Vec<T>> {
        match self {
            Stored::Memory(v) => {
                let start = usize::try_from(start).unwrap_or(usize::MAX).min(v.len());
                Ok(v[start..start.saturating_add(n).min(v.len())].to_vec())
            }
            Stored::Disk(file, len) => {
                let n = (n as u64).min(len.saturating_sub(start)) as usize;
                let mut buf = vec![0; n * T::BYTES];
                let file = file
                    .lock()
                    .map_err(|_| io::Error::other("spill file lock poisoned"))?;
                read_exact_at(&file, &mut buf, start * T::BYTES as u64)?;
                Ok(buf.chunks_exact(T::BYTES).map(T::decode).collect())
            }
        }
    }

    /// The position of the first record whose key is not below `key` (a binary search).
    pub(crate) fn lower_bound(&self, key: T::Key) -> io::Result<u64> {
        if let Stored::Memory(v) = self {
            return Ok(v.partition_point(|r| r.key() < key) as u64);
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.range(mid, 1)?.first().is_some_and(|r| r.key() < key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The records with keys in `from..to`.
    pub(crate) fn between(&self, from: T::Key, to: T::Key) -> io::Result<Vec<T>> {
        let start = self.lower_bound(from)?;
        let end = self.lower_bound(to)?;
        let n = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
        self.range(start, n)
    }

    /// Whether a record has exactly `key`.
    pub(crate) fn contains(&self, key: T::Key) -> io::Result<bool> {
        let at = self.lower_bound(key)?;
        Ok(self.range(at, 1)?.first().is_some_and(|r| r.key() == key))
    }

    /// Every record in order, a block at a time.
    pub(crate) fn cursor(&self) -> Cursor<'_, T> {
        Cursor {
            stored: self,
            next: 0,
            block: Vec::new(),
            at: 0,
        }
    }
}

/// Reads [`Stored`] records in order, a block at a time.
pub(crate) struct Cursor<'a, T> {
    stored: &'a Stored<T>,
    next: u64,
    block: Vec<T>,
    at: usize,
}

impl<T: Fixed> Cursor<'_, T> {
    /// Moves past every record whose key is below `key`, and tells whether the next one has
    /// exactly `key` (keys asked for must not decrease).
    pub(crate) fn seek_has(&mut self, key: T::Key) -> io::Result<bool> {
        loop {
            if self.at == self.block.len() {
                self.block = self.stored.range(self.next, BLOCK as usize)?;
                self.next += self.block.len() as u64;
                self.at = 0;
            }
            let Some(record) = self.block.get(self.at) else {
                return Ok(false);
            };
            if record.key() >= key {
                return Ok(record.key() == key);
            }
            self.at += 1;
        }
    }
}

/// Records collected during the scan: a buffer, spilled as sorted runs to a temporary file.
#[derive(Debug)]
pub(crate) struct Collector<T> {
    buffer: Vec<T>,
    chunk: usize,
    spill: Option<(File, Vec<(u64, u64)>)>,
}

impl<T: Fixed> Collector<T> {
    /// A collector keeping at most `chunk` records in memory.
    pub(crate) fn new(chunk: usize) -> Self {
        Self {
            buffer: Vec::new(),
            chunk: chunk.max(1),
            spill: None,
        }
    }

    /// Adds a record, spilling a sorted run when the buffer is full.
    pub(crate) fn push(&mut self, e: T) -> io::Result<()> {
        self.buffer.push(e);
        if self.buffer.len() >= self.chunk {
            self.spill_buffer()?;
        }
        Ok(())
    }

    fn spill_buffer(&mut self) -> io::Result<()> {
        self.buffer.sort_unstable_by_key(T::key);
        if self.spill.is_none() {
            self.spill = Some((tempfile::tempfile()?, Vec::new()));
        }
        let Some((file, runs)) = self.spill.as_mut() else {
            return Ok(());
        };
        let start = runs.last().map_or(0, |&(s, n)| s + n);
        let mut w = BufWriter::with_capacity(1 << 16, &*file);
        let mut bytes = vec![0; T::BYTES];
        for e in &self.buffer {
            e.encode(&mut bytes);
            w.write_all(&bytes)?;
        }
        w.flush()?;
        runs.push((start, self.buffer.len() as u64));
        self.buffer.clear();
        Ok(())
    }

    /// Calls `f` with every record in key order; `keep` is true when `f` keeps it, and the
    /// kept ones are stored. Returns the store and how many were kept.
    pub(crate) fn finish(
        mut self,
        mut f: impl FnMut(&T) -> io::Result<bool>,
    ) -> io::Result<(Stored<T>, u64)> {
        if self.spill.is_none() {
            self.buffer.sort_unstable_by_key(T::key);
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
        let mut readers: Vec<RunReader<T>> = runs
            .into_iter()
            .map(|(s, n)| RunReader::new(s, n))
            .collect();
        // The current record of each run, and a heap of (key, run).
        let mut heads: Vec<Option<T>> = Vec::with_capacity(readers.len());
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            let head = r.next(&spill)?;
            if let Some(e) = head {
                heap.push(Reverse((e.key(), i)));
            }
            heads.push(head);
        }
        let (mut kept, mut bytes) = (0u64, vec![0; T::BYTES]);
        while let Some(Reverse((_, i))) = heap.pop() {
            let Some(e) = heads[i].take() else {
                continue;
            };
            if f(&e)? {
                e.encode(&mut bytes);
                w.write_all(&bytes)?;
                kept += 1;
            }
            if let Some(next) = readers[i].next(&spill)? {
                heap.push(Reverse((next.key(), i)));
                heads[i] = Some(next);
            }
        }
        w.flush()?;
        drop(w);
        Ok((Stored::Disk(Mutex::new(out), kept), kept))
    }
}

/// Reads one sorted run of the spill file, a block at a time.
struct RunReader<T> {
    next: u64,
    end: u64,
    block: Vec<T>,
    at: usize,
}

/// Records read at once from a run or a store.
const BLOCK: u64 = 4096;

impl<T: Fixed> RunReader<T> {
    fn new(start: u64, n: u64) -> Self {
        Self {
            next: start,
            end: start + n,
            block: Vec::new(),
            at: 0,
        }
    }

    fn next(&mut self, file: &File) -> io::Result<Option<T>> {
        if self.at == self.block.len() {
            let n = BLOCK.min(self.end - self.next);
            if n == 0 {
                return Ok(None);
            }
            let mut buf = vec![0; n as usize * T::BYTES];
            read_exact_at(file, &mut buf, self.next * T::BYTES as u64)?;
            self.block = buf.chunks_exact(T::BYTES).map(T::decode).collect();
            self.at = 0;
            self.next += n;
        }
        let e = self.block[self.at];
        self.at += 1;
        Ok(Some(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Pair(u32, u64);

    impl Fixed for Pair {
        const BYTES: usize = 12;
        type Key = (u32, u64);
        fn key(&self) -> (u32, u64) {
            (self.0, self.1)
        }
        fn encode(&self, out: &mut [u8]) {
            out[0..4].copy_from_slice(&self.0.to_le_bytes());
            out[4..12].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            Pair(u32_at(b, 0), u64_at(b, 4))
        }
    }

    #[test]
    fn looks_up_in_memory_and_on_disk_alike() {
        for chunk in [1000, 3] {
            let mut c = Collector::new(chunk);
            for (a, b) in [(2, 5), (1, 9), (2, 1), (1, 9), (3, 0), (2, 7), (1, 1)] {
                c.push(Pair(a, b)).unwrap();
            }
            let mut previous = None;
            let (stored, n) = c
                .finish(|p| {
                    let new = previous != Some(*p);
                    previous = Some(*p);
                    Ok(new)
                })
                .unwrap();
            assert_eq!((n, stored.len()), (6, 6), "one (1, 9) dropped");
            assert!(matches!(stored, Stored::Disk(..)) == (chunk == 3));
            assert_eq!(
                stored.between((2, 0), (2, u64::MAX)).unwrap(),
                [Pair(2, 1), Pair(2, 5), Pair(2, 7)]
            );
            assert!(stored.between((4, 0), (5, 0)).unwrap().is_empty());
            assert!(stored.contains((3, 0)).unwrap() && !stored.contains((3, 1)).unwrap());
            let mut cursor = stored.cursor();
            assert!(cursor.seek_has((1, 9)).unwrap());
            assert!(!cursor.seek_has((2, 2)).unwrap());
            assert!(cursor.seek_has((2, 5)).unwrap());
            assert!(!cursor.seek_has((9, 9)).unwrap());
            let got: Vec<_> = stored.range(0, 10).unwrap().iter().map(Pair::key).collect();
            assert_eq!(got, [(1, 1), (1, 9), (2, 1), (2, 5), (2, 7), (3, 0)]);
            assert_eq!(stored.range(4, 10).unwrap().len(), 2);
        }
    }
}
