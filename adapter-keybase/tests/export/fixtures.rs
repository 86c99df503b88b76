//! Paths to the fixtures and helpers to read a whole chat.

use std::path::{Path, PathBuf};

use adapter_keybase::KeybaseExport;
use bridge_core::{ChatId, Cursor, HistorySource, Message};

/// `adapter-keybase/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The bundled sample export folder, `tests/fixtures/sample-export` at the workspace root.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sample-export")
}

/// Every message of `chat`, through `HistorySource::page` with pages of `limit`, checking the
/// cursors on the way.
pub async fn read_all(export: &KeybaseExport, chat: &str, limit: usize) -> Vec<Message> {
    let chat = ChatId::new(chat);
    let mut out: Vec<Message> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = export.page(&chat, cursor.as_ref(), limit).await.unwrap();
        assert!(page.messages.len() <= limit);
        match page.next {
            Some(next) => {
                assert_eq!(page.messages.len(), limit, "a short page must be the last");
                let last = page.messages.last().unwrap();
                assert_eq!(
                    next.as_str(),
                    last.origin.msg.as_str(),
                    "cursor = last id returned"
                );
                out.extend(page.messages);
                cursor = Some(next);
            }
            None => {
                out.extend(page.messages);
                return out;
            }
        }
    }
}

/// Every message of `chat` synchronously, in one page per `MAX_PAGE`.
pub fn read_all_sync(export: &KeybaseExport, chat: &str) -> Vec<Message> {
    let chat = ChatId::new(chat);
    let mut out: Vec<Message> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = export
            .read_page(&chat, cursor.as_ref(), adapter_keybase::export::MAX_PAGE)
            .unwrap();
        out.extend(page.messages);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// The message ids, as numbers.
pub fn ids(messages: &[Message]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m.origin.msg.as_str().parse().unwrap())
        .collect()
}

/// The message with id `id`.
pub fn by_id(messages: &[Message], id: u64) -> &Message {
    let id = id.to_string();
    messages
        .iter()
        .find(|m| m.origin.msg.as_str() == id)
        .unwrap_or_else(|| panic!("no message {id}"))
}

/// (emoji, exact, user names) per reaction.
pub fn reactions(m: &Message) -> Vec<(&str, bool, Vec<&str>)> {
    m.reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.exact,
                r.users.iter().map(|u| u.name.as_str()).collect(),
            )
        })
        .collect()
}
