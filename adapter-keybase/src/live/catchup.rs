//! Catching up a conversation after a live position: what was said while no api-listen
//! listened (before the first start, or while a restart was pending).
//!
//! Paged as the exporter pages ([`crate::exporter`], keybase.md §2.7): `read` newest first
//! with `peek` (nothing marked read), through the same `chat api` process and request types,
//! stopping at the first message at or below the position, at `last`, at an empty page or at
//! a repeated cursor. The messages are then turned into events oldest first, so an edit or a
//! reaction comes after its message and a delete after the reactions it lists. `read` folds
//! edits into their targets and hides deleted messages, but still lists the edit, delete and
//! reaction messages themselves (§2.5), so applying them in id order converges.

use std::collections::{BTreeMap, HashSet};

use tracing::{info, warn};

use super::event::{EventReader, LiveEvent};
use crate::cli::{
    ApiProcess, ClientError,
    requests::{PageRequest, ReadOptions, Thread, WrapperPeek},
};

/// What a catch-up found.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// The events after the position, oldest first.
    pub events: Vec<LiveEvent>,
    /// The newest message id read (the new position once the events are handled); `None`
    /// when nothing is newer than the position.
    pub newest: Option<u64>,
    /// Pages read.
    pub pages: u64,
}

/// Reads conversation `conversation_id` strictly after message `after` (0: from the start),
/// `page_size` messages a page.
///
/// # Errors
/// The client's errors ([`ClientError::Api`] when the conversation cannot be read).
pub async fn catch_up(
    api: &mut ApiProcess,
    reader: &EventReader,
    conversation_id: &str,
    after: u64,
    page_size: u32,
) -> Result<CatchUp, ClientError> {
    let mut wrappers: BTreeMap<u64, String> = BTreeMap::new();
    let mut next: Option<String> = None;
    let mut used: HashSet<String> = HashSet::new();
    let mut pages = 0u64;
    loop {
        let options = ReadOptions {
            conversation_id: conversation_id.to_owned(),
            pagination: PageRequest {
                num: page_size.max(1),
                next: next.clone(),
            },
            peek: true,
        };
        let raw = api.call("read", &options).await?;
        pages += 1;
        let thread: Thread =
            serde_json::from_str(raw.get()).map_err(|e| ClientError::BadReply {
                method: "read".to_owned(),
                detail: e.to_string(),
                // Not the reply itself: it holds messages' text, which logs never show.
                excerpt: String::new(),
            })?;
        let messages = thread.messages.unwrap_or_default();
        let mut reached = false;
        for wrapper in &messages {
            let id = WrapperPeek::of(wrapper.get()).msg.map_or(0, |m| m.id);
            if id == 0 {
                // Undecryptable: no id to place it by; the reader logs it.
                reader.wrapper(wrapper.get());
                continue;
            }
            if id <= after {
                reached = true;
                break;
            }
            wrappers.insert(id, wrapper.get().to_owned());
        }
        let page = thread.pagination.unwrap_or_default();
        let cursor = page.next.filter(|c| !c.is_empty());
        let repeated = cursor.as_ref().is_some_and(|c| !used.insert(c.clone()));
        if repeated {
            warn!(conversation = %conversation_id,
                "the same page cursor came back twice; taking it as the end");
        }
        if reached || page.last || messages.is_empty() || cursor.is_none() || repeated {
            break;
        }
        next = cursor;
    }
    let newest = wrappers.keys().next_back().copied();
    let events: Vec<LiveEvent> = wrappers
        .values()
        .flat_map(|raw| reader.wrapper(raw))
        .collect();
    info!(conversation = %conversation_id, after, newest = ?newest, events = events.len(), pages,
        "keybase conversation caught up");
    Ok(CatchUp {
        events,
        newest,
        pages,
    })
}

/// The newest message id of conversation `conversation_id` (0 when it has none): where a
/// relay that starts without a position begins, so it relays what is said from now on and
/// leaves the history to a backfill.
///
/// # Errors
/// The client's errors ([`ClientError::Api`] when the conversation cannot be read).
pub async fn newest_id(api: &mut ApiProcess, conversation_id: &str) -> Result<u64, ClientError> {
    let options = ReadOptions {
        conversation_id: conversation_id.to_owned(),
        pagination: PageRequest { num: 1, next: None },
        peek: true,
    };
    let raw = api.call("read", &options).await?;
    let thread: Thread = serde_json::from_str(raw.get()).map_err(|e| ClientError::BadReply {
        method: "read".to_owned(),
        detail: e.to_string(),
        excerpt: String::new(),
    })?;
    Ok(thread
        .messages
        .unwrap_or_default()
        .iter()
        .filter_map(|w| WrapperPeek::of(w.get()).msg.map(|m| m.id))
        .max()
        .unwrap_or(0))
}
