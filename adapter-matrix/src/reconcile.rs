//! After a crash: did an interrupted send arrive? (`Sink::find_sent`)
//!
//! Synapse forgets transaction IDs when it restarts (and after 30 minutes), so a resend with the
//! same ID may make a second event. Instead the room's latest events are read back (newest
//! first, as the bot) and searched for the part's source key. The interrupted send was the last
//! thing its job did in that room, so it is near the end: a bounded number of pages is enough.

use bridge_core::{MsgId, MsgRef};
use ruma::{
    RoomId, UInt,
    api::{
        Direction,
        client::{filter::RoomEventFilter, message::get_message_events},
    },
};
use serde_json::Value;
use tracing::{debug, warn};

use crate::{client::MatrixClient, error::MatrixError, parts};

/// Events read per page.
const PAGE: u32 = 100;
/// Pages read before concluding the part never arrived.
const MAX_PAGES: usize = 10;

/// The event that is part `part` of the copy of `origin` in `room`, if one of the latest
/// events is.
///
/// # Errors
/// The homeserver's.
pub async fn find(
    client: &MatrixClient,
    room: &RoomId,
    origin: &MsgRef,
    part: u32,
) -> Result<Option<MsgId>, MatrixError> {
    let mut from: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut req = get_message_events::v3::Request::new(room.to_owned(), Direction::Backward);
        req.from = from.take();
        req.limit = UInt::from(PAGE);
        let mut filter = RoomEventFilter::default();
        filter.types = Some(vec!["m.room.message".to_owned(), "m.reaction".to_owned()]);
        req.filter = filter;
        let page = client.send(req, None).await?;
        for raw in &page.chunk {
            let Ok(event) = serde_json::from_str::<Value>(raw.json().get()) else {
                continue;
            };
            if parts::is_copy_of(&event["content"], origin, part) {
                if let Some(id) = event["event_id"].as_str() {
                    debug!(msg = %origin, part, event = id, "interrupted send had arrived");
                    return Ok(Some(MsgId::new(id)));
                }
            }
        }
        match page.end {
            Some(end) if !page.chunk.is_empty() => from = Some(end),
            _ => return Ok(None),
        }
    }
    warn!(msg = %origin, part, room = %room, events = PAGE as usize * MAX_PAGES,
        "interrupted send not among the latest events; sending it again");
    Ok(None)
}
