//! The reorder window of one chat's worker: edits and reactions held until their message
//! comes, and the live positions that may not be saved yet.
//!
//! Sources reorder (serenity dispatches each gateway event in a task of its own; a catch-up
//! overlaps the listener), so an edit or reaction can come before its message. The worker holds
//! it for up to the window; the message, once applied, releases what waits for it, in arrival
//! order. A later event about a held message waits behind it, so their order holds too.
//!
//! A live position is where a restart catches up after. Saving the position of an event that
//! came after a held one would make a restart skip the held one, so positions are saved only up
//! to the first event still held: a restart replays from there, and what was applied since is
//! found done in the store.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

use super::Queued;
use crate::{ids::Cursor, ids::MsgId, model::Event};

/// One held event.
#[derive(Debug)]
pub(super) struct Held {
    /// Its place in the chat's arrival order.
    seq: u64,
    /// When it is given up.
    until: Instant,
    /// The event and whom to answer.
    pub queued: Queued,
}

/// The events a chat's worker holds, and its positions not yet saved.
#[derive(Debug)]
pub(super) struct Window {
    length: Duration,
    /// By the message they wait for, each list in arrival order.
    held: HashMap<MsgId, Vec<Held>>,
    next_seq: u64,
    /// Positions of events seen, in arrival order, not yet saved.
    unsaved: VecDeque<(u64, Cursor)>,
}

impl Window {
    /// An empty window holding events for up to `length`.
    pub(super) fn new(length: Duration) -> Self {
        Self {
            length,
            held: HashMap::new(),
            next_seq: 0,
            unsaved: VecDeque::new(),
        }
    }

    /// Notes an event's arrival (and its position, if it has one); returns its place in the
    /// arrival order.
    pub(super) fn arrive(&mut self, position: Option<&Cursor>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(position) = position {
            self.unsaved.push_back((seq, position.clone()));
        }
        seq
    }

    /// Whether events wait for message `msg`.
    pub(super) fn waits_for(&self, msg: &MsgId) -> bool {
        self.held.contains_key(msg)
    }

    /// Holds `queued` (which arrived as `seq`) until message `msg` comes or the window ends.
    pub(super) fn hold(&mut self, msg: MsgId, seq: u64, queued: Queued, now: Instant) {
        let until = now + self.length;
        self.held
            .entry(msg)
            .or_default()
            .push(Held { seq, until, queued });
    }

    /// Takes every event waiting for message `msg`, in arrival order.
    pub(super) fn take(&mut self, msg: &MsgId) -> Vec<Queued> {
        self.held
            .remove(msg)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.queued)
            .collect()
    }

    /// Takes the held reaction whose own ID is `id`, if one waits.
    pub(super) fn take_reaction(&mut self, id: &MsgId) -> Option<Queued> {
        let (msg, index) = self.held.iter().find_map(|(msg, list)| {
            let index = list.iter().position(|h| {
                matches!(&h.queued.incoming.event,
                    Event::ReactionAdded { id: Some(own), .. } if own == id)
            })?;
            Some((msg.clone(), index))
        })?;
        let list = self.held.get_mut(&msg)?;
        let held = list.remove(index);
        if list.is_empty() {
            self.held.remove(&msg);
        }
        Some(held.queued)
    }

    /// When the next held event is due to be given up.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.held.values().flatten().map(|h| h.until).min()
    }

    /// Takes the events whose window ended by `now`, in arrival order.
    pub(super) fn expired(&mut self, now: Instant) -> Vec<Queued> {
        let mut due = Vec::new();
        for list in self.held.values_mut() {
            let (gone, kept): (Vec<Held>, Vec<Held>) = list.drain(..).partition(|h| h.until <= now);
            *list = kept;
            due.extend(gone);
        }
        self.held.retain(|_, list| !list.is_empty());
        due.sort_by_key(|h| h.seq);
        due.into_iter().map(|h| h.queued).collect()
    }

    /// Whether nothing is held.
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The latest position that may be saved now (every event up to it is handled), once.
    pub(super) fn savable(&mut self) -> Option<Cursor> {
        let floor = self
            .held
            .values()
            .flatten()
            .map(|h| h.seq)
            .min()
            .unwrap_or(u64::MAX);
        let mut latest = None;
        while let Some((seq, _)) = self.unsaved.front() {
            if *seq >= floor {
                break;
            }
            latest = self.unsaved.pop_front().map(|(_, p)| p);
        }
        latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        adapter::Incoming,
        ids::{ChatRef, Platform, UserId},
        model::Sender,
    };

    fn reaction(msg: &str, id: &str) -> Queued {
        let chat = ChatRef::new(Platform::Discord, "100");
        Queued::from(Incoming {
            event: Event::ReactionAdded {
                target: chat.msg(MsgId::new(msg)),
                sender: Sender {
                    id: UserId::new("u"),
                    name: "u".into(),
                    avatar: None,
                },
                emoji: "👍".into(),
                id: Some(MsgId::new(id)),
            },
            position: None,
            own: false,
        })
    }

    fn own_id(q: &Queued) -> Option<&MsgId> {
        match &q.incoming.event {
            Event::ReactionAdded { id, .. } => id.as_ref(),
            _ => None,
        }
    }

    #[test]
    fn held_events_come_out_in_arrival_order_when_due_or_released() {
        let mut w = Window::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let a = w.arrive(None);
        w.hold(MsgId::new("7"), a, reaction("7", "r1"), t0);
        let b = w.arrive(None);
        w.hold(
            MsgId::new("8"),
            b,
            reaction("8", "r2"),
            t0 + Duration::from_secs(1),
        );
        let c = w.arrive(None);
        w.hold(
            MsgId::new("7"),
            c,
            reaction("7", "r3"),
            t0 + Duration::from_secs(2),
        );
        assert!(w.waits_for(&MsgId::new("7")) && !w.waits_for(&MsgId::new("9")));
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(10)));

        let due = w.expired(t0 + Duration::from_secs(11));
        let ids: Vec<_> = due.iter().filter_map(own_id).map(MsgId::as_str).collect();
        assert_eq!(ids, ["r1", "r2"], "both due, in arrival order");
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(12)));
        let released = w.take(&MsgId::new("7"));
        assert_eq!(released.len(), 1);
        assert!(w.is_empty() && w.next_deadline().is_none());
    }

    #[test]
    fn a_held_reaction_is_found_by_its_own_id() {
        let mut w = Window::new(Duration::from_secs(10));
        let seq = w.arrive(None);
        w.hold(MsgId::new("7"), seq, reaction("7", "r1"), Instant::now());
        assert!(w.take_reaction(&MsgId::new("r2")).is_none());
        let taken = w.take_reaction(&MsgId::new("r1")).expect("held");
        assert_eq!(own_id(&taken).map(MsgId::as_str), Some("r1"));
        assert!(w.is_empty());
    }

    #[test]
    fn positions_are_saved_only_up_to_the_first_held_event() {
        let mut w = Window::new(Duration::from_secs(10));
        let now = Instant::now();
        w.arrive(Some(&Cursor::new("1")));
        assert_eq!(w.savable(), Some(Cursor::new("1")));
        assert_eq!(w.savable(), None, "once");
        let held = w.arrive(Some(&Cursor::new("2")));
        w.hold(MsgId::new("9"), held, reaction("9", "r"), now);
        w.arrive(Some(&Cursor::new("3")));
        w.arrive(None);
        assert_eq!(
            w.savable(),
            None,
            "2 is held, so neither 2 nor 3 may be saved"
        );
        w.take(&MsgId::new("9"));
        assert_eq!(w.savable(), Some(Cursor::new("3")));
    }
}
