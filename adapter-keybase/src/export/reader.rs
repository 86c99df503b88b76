//! Reading a file line by line with byte offsets, in bounded memory.

use std::io::{self, BufRead};

/// A UTF-8 byte order mark, tolerated at the start of the file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How much of an over-long line is kept, for the reject report.
const TOO_LONG_EXCERPT: usize = 1024;

/// Where a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineSpan {
    /// The line number, from 1.
    pub number: u64,
    /// The byte offset of the line's content.
    pub offset: u64,
    /// The content's length in bytes, without the `\n` or `\r\n`.
    pub len: u64,
    /// Whether the line was longer than the limit (the buffer then holds only its start).
    pub too_long: bool,
}

/// Splits a reader into lines, never buffering more than `max` bytes of one line.
pub(crate) struct LineReader<R> {
    inner: R,
    offset: u64,
    number: u64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of `inner`, each at most `max` bytes.
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            offset: 0,
            number: 0,
            max,
        }
    }

    /// Reads the next line into `buf` (replacing its content); `None` at the end of the file.
    /// The last line counts even without a final newline.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineSpan>> {
        buf.clear();
        let start = self.offset;
        let mut len: u64 = 0;
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            len += chunk.len() as u64;
            if !too_long {
                if buf.len() + chunk.len() <= self.max {
                    buf.extend_from_slice(chunk);
                } else {
                    too_long = true;
                    let room = TOO_LONG_EXCERPT.saturating_sub(buf.len()).min(chunk.len());
                    buf.extend_from_slice(&chunk[..room]);
                    buf.truncate(TOO_LONG_EXCERPT);
                }
            }
            let consumed = chunk.len() + usize::from(newline.is_some());
            self.inner.consume(consumed);
            self.offset += consumed as u64;
            if newline.is_some() {
                break;
            }
        }
        self.number += 1;
        let mut span = LineSpan {
            number: self.number,
            offset: start,
            len,
            too_long,
        };
        if span.number == 1 && buf.starts_with(BOM) {
            buf.drain(..BOM.len());
            span.offset += BOM.len() as u64;
            span.len -= BOM.len() as u64;
        }
        if !too_long && buf.last() == Some(&b'\r') {
            buf.pop();
            span.len -= 1;
        }
        Ok(Some(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(LineSpan, Vec<u8>)> {
        let mut r = LineReader::new(io::BufReader::with_capacity(3, input), max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(span) = r.next_line(&mut buf).unwrap() {
            out.push((span, buf.clone()));
        }
        out
    }

    #[test]
    fn splits_with_offsets_crlf_bom_and_no_final_newline() {
        let got = lines(b"\xEF\xBB\xBFab\r\n\ncdef", 100);
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].0.offset, got[0].0.len, got[0].1.as_slice()),
            (3, 2, &b"ab"[..])
        );
        assert_eq!((got[1].0.offset, got[1].0.len), (7, 0));
        assert_eq!(
            (got[2].0.number, got[2].0.offset, got[2].1.as_slice()),
            (3, 8, &b"cdef"[..])
        );
        assert!(lines(b"", 10).is_empty());
        assert_eq!(lines(b"x\n", 10).len(), 1);
    }

    #[test]
    fn bounds_long_lines() {
        let got = lines(b"0123456789\nab\n", 4);
        assert!(got[0].0.too_long);
        assert_eq!(got[0].0.len, 10);
        assert_eq!(
            (got[1].0.offset, got[1].1.as_slice(), got[1].0.too_long),
            (11, &b"ab"[..], false)
        );
    }
}
