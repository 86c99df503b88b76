//! Any bytes as one conversation file of a `kbbridge export` folder (manifest committing all
//! of it but the last byte, as after a torn write). The reader must never panic.
#![no_main]

#[path = "common.rs"]
mod common;

use adapter_keybase::{KeybaseExport, layout::{Manifest, chat_file}};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = chat_file(&"0".repeat(64));
    std::fs::create_dir_all(dir.path().join("chats")).expect("chats folder");
    std::fs::write(dir.path().join(&file), data).expect("write the input");
    let manifest = serde_json_manifest(&file, data.len().saturating_sub(1) as u64);
    std::fs::write(dir.path().join("manifest.json"), manifest).expect("write the manifest");
    if let Ok(export) = KeybaseExport::open(dir.path()) {
        common::read_everything(&export);
    }
    let _ = Manifest::load(dir.path());
});

fn serde_json_manifest(file: &str, committed: u64) -> String {
    format!(
        r#"{{"format":"kbbridge-export","version":1,"created_at":"2024-01-01T00:00:00Z",
        "updated_at":"2024-01-01T00:00:00Z","conversations":{{"{id}":{{"chat":"acme#general",
        "channel":{{"name":"acme","members_type":"team","topic_name":"general"}},
        "file":"{file}","committed_bytes":{committed},"lines":0,"high_water":0}}}}}}"#,
        id = "0".repeat(64)
    )
}
