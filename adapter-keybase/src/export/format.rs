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
                *name = crate::layout::safe_file_name(name);
            }
        }
    }
}

/// Keys that mark a raw dump's top-level object.
const RAW_KEYS: [&str; 5] = ["msg", "error", "result", "topic_name", "pagination"];

/// How much of the file detection looks at.
const PROBE_BYTES: u64 = 1 << 20;

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

/// Which format the file at `path` is in: a leading `[` or a first line holding a raw object
/// (`msg`, `result`, `topic_name`) is a raw dump; when the first line is not a whole object
/// (pretty-printed), its first key decides; anything else is read as keybase-export lines.
pub(crate) fn detect(path: &Path) -> io::Result<ExportFormat> {
    let mut reader = BufReader::new(File::open(path)?.take(PROBE_BYTES));
    let mut head = Vec::new();
    // The first line with something on it.
    while head
        .iter()
        .all(|b: &u8| b.is_ascii_whitespace() || b"\xEF\xBB\xBF".contains(b))
    {
        head.clear();
        if reader.read_until(b'\n', &mut head)? == 0 {
            return Ok(ExportFormat::KeybaseExport);
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
        Some(b'[') => return Ok(ExportFormat::RawApi),
        Some(b'{') => {}
        _ => return Ok(ExportFormat::KeybaseExport),
    }
    if let Ok(probe) = serde_json::from_slice::<Probe>(&head) {
        let raw = probe.channel_name.is_none()
            && (probe.msg.is_some() || probe.result.is_some() || probe.topic_name.is_some());
        return Ok(if raw {
            ExportFormat::RawApi
        } else {
            ExportFormat::KeybaseExport
        });
    }
    // Pretty-printed: the first key may be on the next lines.
    reader.take(4096).read_to_end(&mut head)?;
    let mut rest = head.iter().skip(1).skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b'"') {
        return Ok(ExportFormat::KeybaseExport);
    }
    let key: Vec<u8> = rest.take_while(|&&b| b != b'"').copied().collect();
    let raw = RAW_KEYS.iter().any(|k| k.as_bytes() == key.as_slice());
    Ok(if raw {
        ExportFormat::RawApi
    } else {
        ExportFormat::KeybaseExport
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn detected(text: &str) -> ExportFormat {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        detect(file.path()).unwrap()
    }

    #[test]
    fn detects_by_shape() {
        use ExportFormat::{KeybaseExport as Lines, RawApi as Raw};
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
        assert_eq!(detected("{\n  \"topic_name\": {"), Raw);
        assert_eq!(detected("{\n  \"text\": \"x\","), Lines);
        assert_eq!(detected(""), Lines);
        assert_eq!(detected("garbage"), Lines);
    }
}
