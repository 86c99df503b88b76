//! Finds the `{"msg":…}` and `{"error":…}` wrappers in a raw API dump, whatever holds them
//! (a JSON array, a `read` reply, a `topic_name` map, one document per line, pretty-printed or
//! not), in one streaming pass that only follows brackets and strings: nothing is buffered, the
//! caller reads each wrapper's bytes by offset.
//!
//! A wrapper is an object that is an array element or a top-level value and has a `msg` or
//! `error` key of its own. After a structural error the scanner reports it and starts again at
//! the next line, as top level, so a damaged region costs only the wrappers it touches. Where
//! each line is a document of its own (database rows), a line that ends inside a value is
//! reported as cut short, and the next line starts afresh.

use std::io::{self, BufRead};

/// Deeper nesting than this is treated as an error (it is not a Keybase reply).
const MAX_DEPTH: usize = 256;

/// What the scanner found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// A wrapper object: where its bytes are.
    Wrapper {
        /// Line of its `{`, from 1.
        line: u64,
        /// Byte offset of its `{`.
        offset: u64,
        /// Length up to and including its `}`.
        len: u64,
    },
    /// Bytes that are not the JSON expected; what follows on the same line is skipped.
    Error {
        /// Line of the problem, from 1.
        line: u64,
        /// What is wrong.
        detail: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
}

#[derive(Debug)]
struct Frame {
    kind: Kind,
    /// An object that may be a wrapper (array element or top level, not inside a wrapper).
    candidate: bool,
    /// Whether the next string in this object is a key.
    expect_key: bool,
    wrapper: bool,
    offset: u64,
    line: u64,
}

/// The streaming scanner.
pub(crate) struct WrapperScanner<R> {
    inner: R,
    state: State,
}

/// Where the scanner is in the JSON structure.
#[derive(Debug, Default)]
struct State {
    offset: u64,
    line: u64,
    stack: Vec<Frame>,
    wrappers_open: usize,
    in_string: bool,
    escape: bool,
    /// The key being read in a candidate object (first bytes only).
    key: Option<Vec<u8>>,
    /// After an error: ignore everything up to the next newline.
    skip_line: bool,
    /// Each line is a document: a newline inside a value is an error.
    one_per_line: bool,
    done: bool,
}

impl<R: BufRead> WrapperScanner<R> {
    /// A scanner over `inner`; `one_per_line`: each line is a document of its own.
    pub(crate) fn new(inner: R, one_per_line: bool) -> Self {
        Self {
            inner,
            state: State {
                line: 1,
                one_per_line,
                ..State::default()
            },
        }
    }

    /// The next wrapper or error; `None` at the end.
    pub(crate) fn next_found(&mut self) -> io::Result<Option<Found>> {
        loop {
            let s = &mut self.state;
            if s.done {
                return Ok(None);
            }
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                s.done = true;
                return Ok(s.at_end());
            }
            let mut found = None;
            let mut used = 0;
            for &b in available {
                used += 1;
                found = step(s, b);
                s.offset += 1;
                if b == b'\n' {
                    s.line += 1;
                }
                if found.is_some() {
                    break;
                }
            }
            self.inner.consume(used);
            if found.is_some() {
                return Ok(found);
            }
        }
    }
}

impl State {
    fn at_end(&mut self) -> Option<Found> {
        let open = self.stack.first()?;
        let line = self
            .stack
            .iter()
            .find(|f| f.wrapper)
            .map_or(open.line, |f| f.line);
        let detail = format!(
            "truncated: {} unclosed bracket(s) at the end of the file",
            self.stack.len()
        );
        self.stack.clear();
        Some(Found::Error { line, detail })
    }

    fn fail(&mut self, detail: String) -> Option<Found> {
        self.stack.clear();
        self.wrappers_open = 0;
        self.in_string = false;
        self.escape = false;
        self.key = None;
        self.skip_line = true;
        Some(Found::Error {
            line: self.line,
            detail,
        })
    }
}

/// Advances over one byte (at `s.offset`, on `s.line`).
fn step(s: &mut State, b: u8) -> Option<Found> {
    if b == b'\n' && s.one_per_line && !s.skip_line && (s.in_string || !s.stack.is_empty()) {
        let found = s.fail(format!(
            "truncated: the line ends with {} unclosed bracket(s)",
            s.stack.len()
        ));
        s.skip_line = false;
        return found;
    }
    if s.skip_line {
        s.skip_line = b != b'\n';
        return None;
    }
    if s.in_string {
        if s.escape {
            s.escape = false;
        } else if b == b'\\' {
            s.escape = true;
        } else if b == b'"' {
            s.in_string = false;
            if let Some(key) = s.key.take() {
                if let Some(top) = s.stack.last_mut() {
                    if !top.wrapper && (key == b"msg" || key == b"error") {
                        top.wrapper = true;
                        s.wrappers_open += 1;
                    }
                }
            }
        } else if let Some(key) = &mut s.key {
            if key.len() < 8 {
                key.push(b);
            }
        }
        return None;
    }
    match b {
        b'"' => {
            s.in_string = true;
            let top = s.stack.last();
            if top.is_some_and(|f| f.kind == Kind::Object && f.expect_key && f.candidate) {
                s.key = Some(Vec::new());
            }
            None
        }
        b'{' | b'[' => {
            if s.stack.len() >= MAX_DEPTH {
                return s.fail(format!("nested deeper than {MAX_DEPTH} levels"));
            }
            let parent = s.stack.last();
            let element = parent.is_none_or(|p| p.kind == Kind::Array);
            let kind = if b == b'{' { Kind::Object } else { Kind::Array };
            let candidate = kind == Kind::Object && element && s.wrappers_open == 0;
            let (offset, line) = (s.offset, s.line);
            s.stack.push(Frame {
                kind,
                candidate,
                expect_key: true,
                wrapper: false,
                offset,
                line,
            });
            None
        }
        b'}' | b']' => {
            let want = if b == b'}' { Kind::Object } else { Kind::Array };
            match s.stack.last() {
                Some(top) if top.kind == want => {}
                // Separators left over at top level (after a recovered error) are harmless.
                None if b == b']' => return None,
                _ => return s.fail(format!("unexpected `{}`", char::from(b))),
            }
            let frame = s.stack.pop()?;
            if frame.wrapper {
                s.wrappers_open -= 1;
                let len = s.offset + 1 - frame.offset;
                return Some(Found::Wrapper {
                    line: frame.line,
                    offset: frame.offset,
                    len,
                });
            }
            None
        }
        b',' => {
            if let Some(top) = s.stack.last_mut() {
                top.expect_key = true;
            }
            None
        }
        b':' => {
            match s.stack.last_mut() {
                Some(top) if top.kind == Kind::Object => top.expect_key = false,
                _ => return s.fail("unexpected `:`".to_owned()),
            }
            None
        }
        _ if b.is_ascii_whitespace() => None,
        // The UTF-8 byte order mark, at the very start.
        0xEF | 0xBB | 0xBF if s.offset < 3 => None,
        _ if s.stack.is_empty() => s.fail("text outside of any JSON value".to_owned()),
        // Inside a value: numbers, true/false/null; checked when the wrapper is parsed.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &str) -> Vec<Found> {
        scan_as(input, false)
    }

    fn scan_as(input: &str, one_per_line: bool) -> Vec<Found> {
        let reader = io::BufReader::with_capacity(5, input.as_bytes());
        let mut s = WrapperScanner::new(reader, one_per_line);
        let mut out = Vec::new();
        while let Some(f) = s.next_found().unwrap() {
            out.push(f);
        }
        out
    }

    fn wrappers(input: &str) -> Vec<&str> {
        scan(input)
            .into_iter()
            .filter_map(|f| match f {
                Found::Wrapper { offset, len, .. } => {
                    Some(&input[offset as usize..(offset + len) as usize])
                }
                Found::Error { .. } => None,
            })
            .collect()
    }

    #[test]
    fn finds_wrappers_in_every_container() {
        let arr = r#"[{"msg":{"id":1,"prev":[{"id":0}]}}, {"id":"t-c-2","msg":{"s":"}]{"}}]"#;
        assert_eq!(
            wrappers(arr),
            [
                r#"{"msg":{"id":1,"prev":[{"id":0}]}}"#,
                r#"{"id":"t-c-2","msg":{"s":"}]{"}}"#
            ]
        );
        let reply = "{\"result\":{\"messages\":[\n  {\"msg\":{\"id\":3}},\n  {\"error\":\"x\"}\n],\"pagination\":{}}}";
        assert_eq!(wrappers(reply), [r#"{"msg":{"id":3}}"#, r#"{"error":"x"}"#]);
        let map = r#"{"topic_name":{"general":{"result":{"messages":[{"msg":{"id":4}}]}}}}"#;
        assert_eq!(wrappers(map), [r#"{"msg":{"id":4}}"#]);
        let lines = "{\"msg\":{\"id\":5}}\n{\"msg\":{\"id\":6}}\n";
        assert_eq!(wrappers(lines).len(), 2);
        // Keys named msg deeper down, or values "msg", are not wrappers.
        assert!(wrappers(r#"{"result":{"msg":1},"x":"msg"}"#).is_empty());
    }

    #[test]
    fn recovers_at_the_next_line() {
        let input = "[\n{\"msg\":{\"id\":1}},\n{\"msg\":{\"id\":2]},\n{\"msg\":{\"id\":3}},\n{\"msg\":{\"id\":4\n";
        let found = scan(input);
        let lines: Vec<_> = found
            .iter()
            .map(|f| match f {
                Found::Wrapper { line, .. } => (*line, true),
                Found::Error { line, .. } => (*line, false),
            })
            .collect();
        assert_eq!(lines, [(2, true), (3, false), (4, true), (5, false)]);
    }

    #[test]
    fn one_document_per_line_keeps_a_cut_line_to_itself() {
        let rows = "{\"msg\":{\"id\":1}}\n{\"msg\":{\"id\":2,\n{\"msg\":{\"id\":\"3\n{\"msg\":{\"id\":4}}\nnull\n";
        let found: Vec<_> = scan_as(rows, true)
            .into_iter()
            .map(|f| match f {
                Found::Wrapper { line, .. } => (line, true),
                Found::Error { line, .. } => (line, false),
            })
            .collect();
        assert_eq!(
            found,
            [(1, true), (2, false), (3, false), (4, true), (5, false)]
        );
        // Without the flag the cut wrapper runs on into the next lines.
        assert!(scan_as(rows, false).len() < 5);
    }
}
