//! Any bytes as an export file: detected as keybase-export lines or a raw `chat api` dump,
//! and forced into each format (with the index spilled to disk). The reader must never panic,
//! and must account for every line.
#![no_main]

#[path = "common.rs"]
mod common;

use adapter_keybase::{ExportFormat, ExportOptions, KeybaseExport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, data).expect("write the input");
    for format in [None, Some(ExportFormat::KeybaseExport), Some(ExportFormat::RawApi)] {
        // The forced formats also put their index on disk (2 entries in memory).
        let options = ExportOptions {
            format,
            max_line_bytes: 4096,
            index_memory: if format.is_some() { 2 } else { 1 << 17 },
            ..ExportOptions::default()
        };
        if let Ok(export) = KeybaseExport::open_with(&path, options) {
            common::read_everything(&export);
        }
    }
});
