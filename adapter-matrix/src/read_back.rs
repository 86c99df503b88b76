//! A room read back for `kbbridge verify` (`Sink::read_back`): every message and reaction,
//! oldest first, as the bot sees them. Each of kbbridge's events says which copy part it is
//! (`org.kbbridge.source`); an `m.replace` is folded into the event it edits (marked edited),
//! and a redacted event is listed as gone.

use std::collections::HashSet;

use bridge_core::{ChatRef, MsgId, MsgRef, Platform, Posted};
use ruma::{
    RoomId, UInt,
    api::{
        Direction,
        client::{filter::RoomEventFilter, message::get_message_events},
    },
};
use serde_json::Value;

use crate::{client::MatrixClient, error::MatrixError, parts::SOURCE_KEY};

/// Events read per page.
const PAGE: u32 = 500;

/// Every message and reaction of `room`, oldest first; `ours` tells kbbridge's own senders.
///
/// # Errors
/// The homeserver's.
pub async fn read_back(
    client: &MatrixClient,
    room: &RoomId,
    ours: impl Fn(&str) -> bool,
) -> Result<Vec<Posted>, MatrixError> {
    let mut events: Vec<Value> = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut req = get_message_events::v3::Request::new(room.to_owned(), Direction::Forward);
        req.from = from.take();
        req.limit = UInt::from(PAGE);
        let mut filter = RoomEventFilter::default();
        filter.types = Some(vec!["m.room.message".to_owned(), "m.reaction".to_owned()]);
        req.filter = filter;
        let page = client.send(req, None).await?;
        let n = page.chunk.len();
        events.extend(
            page.chunk
                .iter()
                .filter_map(|raw| serde_json::from_str::<Value>(raw.json().get()).ok()),
        );
        match page.end {
            Some(end) if n > 0 => from = Some(end),
            _ => break,
        }
    }
    let edited: HashSet<&str> = events
        .iter()
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .filter_map(|e| e["content"]["m.relates_to"]["event_id"].as_str())
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut posted = Vec::new();
    for e in &events {
        let Some(id) = e["event_id"].as_str() else {
            continue;
        };
        if e["content"]["m.relates_to"]["rel_type"] == "m.replace" || !seen.insert(id) {
            continue;
        }
        let content = &e["content"];
        let text = content["body"]
            .as_str()
            .or_else(|| content["m.relates_to"]["key"].as_str())
            .unwrap_or_default()
            .to_owned();
        posted.push(Posted {
            id: MsgId::new(id),
            ours: e["sender"].as_str().is_some_and(&ours),
            source: source(&content[SOURCE_KEY]),
            gone: e["unsigned"]["redacted_because"].is_object(),
            edited: edited.contains(id),
            text,
        });
    }
    Ok(posted)
}

/// The copy part an event's `org.kbbridge.source` names.
fn source(value: &Value) -> Option<(MsgRef, u32)> {
    let platform = Platform::parse(value["platform"].as_str()?)?;
    let chat = ChatRef::new(platform, value["chat"].as_str()?);
    let part = u32::try_from(value["part"].as_u64()?).ok()?;
    Some((chat.msg(value["msg"].as_str()?), part))
}
