//! The index on disk: an export whose index goes to a temporary file (a tiny
//! `index_memory`) reads exactly like one whose index stays in memory.

use adapter_keybase::{ExportOptions, KeybaseExport};

use super::fixtures::{fixture, read_all_sync, sample_dir};

fn read(path: &std::path::Path, index_memory: usize) -> (Vec<String>, String) {
    let options = ExportOptions {
        index_memory,
        ..ExportOptions::default()
    };
    let export = KeybaseExport::open_with(path, options).unwrap();
    let mut out = Vec::new();
    for chat in export.chats() {
        for m in read_all_sync(&export, chat.chat.as_str()) {
            out.push(format!(
                "{} {} {} {:?} {:?} {} {}",
                chat.chat,
                m.origin.msg,
                m.content.text,
                m.reply_to,
                m.reactions,
                m.edited,
                m.content.attachments.len()
            ));
        }
    }
    (out, format!("{:?} {:?}", export.stats(), export.chats()))
}

#[test]
fn a_spilled_index_reads_like_one_in_memory() {
    let paths = [
        sample_dir(),
        fixture("duplicates.jsonl"),
        fixture("legacy.jsonl"),
        fixture("bad-lines.jsonl"),
        fixture("raw-array.json"),
        fixture("raw-conv.jsonl"),
        fixture("raw-topics.json"),
    ];
    for path in paths {
        let in_memory = read(&path, 1 << 17);
        assert!(!in_memory.0.is_empty(), "{}", path.display());
        for tiny in [1, 2, 5] {
            assert_eq!(
                read(&path, tiny),
                in_memory,
                "{} with {tiny}",
                path.display()
            );
        }
    }
}
