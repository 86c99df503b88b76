//! Several kbbridge instances on one database (relay.md §5): live events handed from the
//! instance that received them to the instance that relays their link, through the store.
//!
//! - **Ingress leases**, one per credential (`keybase-listen:<account>`, `matrix-ingress`, …):
//!   a platform's listener runs only in the instance holding its lease
//!   ([`crate::lease::run_while_holding`]); when that instance dies, another takes the lease
//!   over within its lifetime and starts the listener there.
//! - **The hand-off** (`relay_event`): a listener's events go to [`write`], which stores each
//!   under its source chat and a key unique per event ([`event_key`]: a redelivery, or a
//!   catch-up reading it again, writes nothing), and only then answers its `done`: a source
//!   that keeps events until handled (the Matrix inbox) lets go of an event once it is durable
//!   here.
//! - **Link leases** (`relay:<link>`): [`hold_links`] takes a lease per link (any instance may
//!   get any link; each link has exactly one holder), and for each link it holds runs a relay
//!   of that link alone, feeding it the link's waiting events in order and marking each done
//!   once applied. A link whose lease is lost stops at once; its events wait for the next
//!   holder, which re-applies at most what was applied but not yet marked done (the copy
//!   protocol makes that a no-op).
//!
//! Waking: the writer wakes this process's holders at once ([`Wake`]); on PostgreSQL
//! [`listen_notifications`] wakes them when another process wrote (`LISTEN/NOTIFY`); a short
//! poll covers a missed notification.

mod holder;
mod notify;
mod writer;

pub use self::{
    holder::{HoldOptions, hold_links, link_lease},
    notify::listen_notifications,
    writer::write,
};

use tokio::sync::watch;

use crate::{adapter::Incoming, model::Event};

/// The ingress lease of the Matrix appservice listener: the homeserver pushes to one URL.
pub const MATRIX_INGRESS: &str = "matrix-ingress";

/// The ingress lease of the Keybase live feed (api-listen and its catch-ups) of `account`.
pub fn keybase_ingress(account: &str) -> String {
    format!("keybase-listen:{account}")
}

/// What the lease `name` guards, for `status`: `link` (who relays a link, several instances on
/// one database), `ingress` (who runs a platform's listener), `writes` (who writes from a
/// source chat into a platform: a backfill or a relay at work), or `setup` (a platform's chats
/// being set up).
pub fn lease_kind(name: &str) -> &'static str {
    if name.starts_with("relay:") {
        "link"
    } else if name.starts_with("link:") {
        "writes"
    } else if name.starts_with("setup:") {
        "setup"
    } else {
        "ingress"
    }
}

/// Tells this process's link holders that events were handed over.
#[derive(Clone, Debug)]
pub struct Wake(watch::Sender<u64>);

impl Default for Wake {
    fn default() -> Self {
        Self(watch::channel(0).0)
    }
}

impl Wake {
    /// Wakes every holder (none is missed: each sees the change at its next wait).
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes at every [`Wake::wake`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// What makes `incoming` unique in its chat: the same event read twice (a redelivery, a
/// catch-up after a listener moved) has the same key. A source position (a Keybase message
/// ID) names the event itself; without one, the event's own fields do (a Matrix reaction or
/// redaction carries its event ID, an edit its time).
pub fn event_key(incoming: &Incoming) -> String {
    let at = incoming.position.as_ref().map_or("", |p| p.as_str());
    match &incoming.event {
        Event::Message(m) => format!("message:{}", m.origin.msg),
        Event::Edit { target, at: t, .. } => {
            format!("edit:{at}:{}:{}", target.msg, t.timestamp_millis())
        }
        Event::Delete { target, .. } => format!("delete:{at}:{}", target.msg),
        Event::ReactionAdded {
            target,
            sender,
            emoji,
            id,
        } => format!(
            "react:{at}:{}:{}:{}:{emoji}",
            id.as_ref().map_or("", |i| i.as_str()),
            target.msg,
            sender.id
        ),
        Event::ReactionRemoved {
            target,
            sender,
            emoji,
            id,
        } => format!(
            "unreact:{at}:{}:{}:{}:{emoji}",
            id.as_ref().map_or("", |i| i.as_str()),
            target.msg,
            sender.id
        ),
    }
}

/// `incoming` as the hand-off stores it, its attachments read into memory first.
///
/// # Errors
/// When it cannot be serialised (which an event with its bytes in memory always can).
pub async fn encode(mut incoming: Incoming) -> Result<String, serde_json::Error> {
    let content = match &mut incoming.event {
        Event::Message(m) => Some(&mut m.content),
        Event::Edit { content, .. } => Some(content),
        _ => None,
    };
    if let Some(content) = content {
        let mut read = Vec::with_capacity(content.attachments.len());
        for attachment in std::mem::take(&mut content.attachments) {
            read.push(attachment.into_memory().await);
        }
        content.attachments = read;
    }
    serde_json::to_string(&incoming)
}

/// An event the hand-off stored.
///
/// # Errors
/// When `payload` is not one (written by another version of kbbridge).
pub fn decode(payload: &str) -> Result<Incoming, serde_json::Error> {
    serde_json::from_str(payload)
}

#[cfg(test)]
mod tests;
