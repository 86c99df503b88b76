//! Which format an export file is in, and reading one indexed record back in that format.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use serde::{Deserialize, de::IgnoredAny};

use super::{
    line::{Parsed, Record, parse_line},
    node::Node,
    raw::msg::{RawParsed, parse_wrapper},
};

/// Which kind of file an export is; detected from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// keybase-export JSON Lines.
    KeybaseExport,
    /// Raw `keybase chat api` output: arrays of `{"msg": …}` wrappers, `read` replies (one per
    /// file or per line), keybase-binding's `{"topic_name": …}` map.
    RawApi,
    /// kbbridge's own export folder (`kbbridge export`, see [`crate::layout`]): a manifest
    /// and one file of raw wrappers per conversation, read as a raw dump whose reactions come
    /// only from reaction messages.
    Kbbridge,
}

/// Reads an indexed record back (`None` if it no longer is a message).
pub(crate) fn parse_record(format: ExportFormat, bytes: &[u8]) -> Option<Box<Record>> {
    match format {
        ExportFormat::KeybaseExport => {
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            match parse_line(bytes) {
                Parsed::Record(rec) => Some(rec),
                _ => None,
            }
        }
        ExportFormat::RawApi | ExportFormat::Kbbridge => match parse_wrapper(bytes) {
            RawParsed::Record(mut rec) => {
                own_format(format, &mut rec);
                Some(rec)
            }
            _ => None,
        },
    }
}

/// What kbbridge's own format changes in a raw record: the export holds every reaction message
/// (also those added after the first export), so reactions are built from them alone and the
/// aggregated map (a snapshot of when the message was first read) is dropped; attachment file
/// names are made safe the way the exporter stored them.
pub(crate) fn own_format(format: ExportFormat, rec: &mut Record) {
    if format != ExportFormat::Kbbridge {
        return;
    }
    rec.reactions = None;
    if let Some(Node::Object(fields)) = &mut rec.attachment {
        for (key, value) in fields.iter_mut() {
            if let (true, Node::Str(name)) = (key == "filename", &mut *value) {
                *name = bridge_core::safe_file_name(name);
            }
        }
    }
}

/// Keys that mark a raw dump's top-level object.
const RAW_KEYS: [&str; 5] = ["msg", "error", "result", "topic_name", "pagination"];

/// How much of the file detection looks at.
const PROBE_BYTES: u64 = 1 << 20;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The keys detection looks for in a first line.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    channel_name: Option<IgnoredAny>,
    #[serde(default)]
    msg: Option<IgnoredAny>,
    #[serde(default)]
    result: Option<IgnoredAny>,
    #[serde(default)]
    topic_name: Option<IgnoredAny>,
}

/// What a file looks like from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// keybase-export lines: a first line with `channel_name`.
    Lines,
    /// A raw dump: a leading `[`, or a first object keyed `msg`, `error`, `result`…
    Raw,
    /// keybase-binding-original's `{"topic_name": …}` (a raw dump too).
    TopicMap,
    /// An SQLite database.
    Sqlite,
    /// Empty, blank, or none of these.
    Unknown,
}

/// What the file at `path` looks like (see [`Shape`]): a leading `[` or a first line holding a
/// raw object (`msg`, `result`, `topic_name`) is a raw dump, one with `channel_name` a
/// keybase-export line; when the first line is not a whole object (pretty-printed), its first
/// key decides.
pub(crate) fn shape(path: &Path) -> io::Result<Shape> {
    let mut reader = BufReader::new(File::open(path)?.take(PROBE_BYTES));
    if reader.fill_buf()?.starts_with(SQLITE_MAGIC) {
        return Ok(Shape::Sqlite);
    }
    let mut head = Vec::new();
    // The first line with something on it.
    while head
        .iter()
        .all(|b: &u8| b.is_ascii_whitespace() || b"\xEF\xBB\xBF".contains(b))
    {
        head.clear();
        if reader.read_until(b'\n', &mut head)? == 0 {
            return Ok(Shape::Unknown);
        }
    }
    let bom = usize::from(head.starts_with(b"\xEF\xBB\xBF")) * 3;
    let start = head
        .iter()
        .skip(bom)
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    head.drain(..bom + start);
    match head.first() {
        Some(b'[') => return Ok(Shape::Raw),
        Some(b'{') => {}
        _ => return Ok(Shape::Unknown),
    }
    if let Ok(probe) = serde_json::from_slice::<Probe>(&head) {
        return Ok(match probe {
            Probe {
                channel_name: Some(_),
                ..
            } => Shape::Lines,
            Probe {
                topic_name: Some(_),
                ..
            } => Shape::TopicMap,
            Probe { msg: Some(_), .. }
            | Probe {
                result: Some(_), ..
            } => Shape::Raw,
            _ => Shape::Unknown,
        });
    }
    // Pretty-printed: the first key may be on the next lines.
    reader.take(4096).read_to_end(&mut head)?;
    let mut rest = head.iter().skip(1).skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b'"') {
        return Ok(Shape::Unknown);
    }
    let key: Vec<u8> = rest.take_while(|&&b| b != b'"').copied().collect();
    Ok(match key.as_slice() {
        b"topic_name" => Shape::TopicMap,
        k if RAW_KEYS.iter().any(|r| r.as_bytes() == k) => Shape::Raw,
        _ => Shape::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn detected(text: &str) -> Shape {
        shaped(text.as_bytes())
    }

    #[test]
    fn detects_by_shape() {
        use Shape::{Lines, Raw, TopicMap, Unknown};
        assert_eq!(
            detected(r#"{"text":"x","id":1,"channel_name":"a#b"}"#),
            Lines
        );
        assert_eq!(
            detected(r#"{"id":1,"sent_at":1,"channel_name":"a#b"}"#),
            Lines
        );
        assert_eq!(detected("\u{FEFF}\n\n[\n {\"msg\":{}}\n]"), Raw);
        assert_eq!(detected(r#"{"id":"acme-general-3","msg":{"id":3}}"#), Raw);
        assert_eq!(detected(r#"{"result":{"messages":[]}}"#), Raw);
        assert_eq!(detected("{\n  \"topic_name\": {"), TopicMap);
        assert_eq!(detected("{\n  \"text\": \"x\","), Unknown);
        assert_eq!(detected(""), Unknown);
        assert_eq!(detected("garbage"), Unknown);
    }

    fn shaped(bytes: &[u8]) -> Shape {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        shape(file.path()).unwrap()
    }

    #[test]
    fn tells_what_is_no_export() {
        assert_eq!(
            shaped(b"{\"id\":1,\"channel_name\":\"a#b\"}\n"),
            Shape::Lines
        );
        assert_eq!(shaped(b"{\"topic_name\":{}}"), Shape::TopicMap);
        assert_eq!(shaped(b"{\n \"topic_name\": {"), Shape::TopicMap);
        assert_eq!(shaped(b"{\"result\":{\"messages\":[]}}"), Shape::Raw);
        assert_eq!(shaped(b"[]"), Shape::Raw);
        assert_eq!(shaped(b"SQLite format 3\0\x10\x00"), Shape::Sqlite);
        for none in [
            &b""[..],
            b"  \n",
            b"hello",
            b"{\"name\":\"x\"}",
            b"{\n \"name\": 1}",
            b"\xff\xfe",
        ] {
            assert_eq!(shaped(none), Shape::Unknown, "{none:?}");
        }
    }
}
