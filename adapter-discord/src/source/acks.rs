//! [`Acks`]: how far the relay has applied the gateway's events, so the session saved for a
//! restart names a sequence number whose events (and all before it) are applied, not merely
//! received.
//!
//! Each gateway frame the delivery side takes (a dispatch, READY, RESUMED, one that was
//! skipped) opens an entry with its sequence number; the events it hands to the relay are
//! added to that entry as the relay's answers to wait for (`Queued::acked`). A catch-up opens
//! an entry of its own, without a number, naming its channel. Entries finish in order: the
//! first whose answers are all in is dropped, its number becoming the applied sequence (and
//! its channel counting as caught up), and so on. An entry with nothing to wait for (an event
//! of a channel not relayed, a frame kbbridge does not use) finishes at once. An answer
//! dropped unanswered (the relay failed or stopped) never finishes its entry: the saved
//! sequence stays before it, and the event is replayed on the next resume.
//!
//! A crash between the relay applying an event and the next save replays that event (and
//! those after it) on resume; that is harmless, as the relay journals what it did: a message
//! already copied, or an edit, delete or reaction already applied, is skipped.

use std::collections::{BTreeSet, VecDeque};

use bridge_core::relay::Applied;
use tokio::sync::oneshot::{self, error::TryRecvError};

/// One frame or catch-up, and the relay's answers it waits for.
#[derive(Debug)]
struct Entry {
    seq: Option<u64>,
    channel: Option<u64>,
    waits: Vec<oneshot::Receiver<Applied>>,
}

/// The answers awaited for one session, in the gateway's order.
#[derive(Debug, Default)]
pub(super) struct Acks {
    entries: VecDeque<Entry>,
    /// The highest sequence number whose events and all before it are applied (0: none yet).
    applied: u64,
    /// The channels whose catch-up (or start position) is applied.
    caught: BTreeSet<u64>,
}

impl Acks {
    /// A session of which everything up to `applied` is applied, `caught` caught up.
    pub(super) fn resumed(applied: u64, caught: BTreeSet<u64>) -> Self {
        Self {
            entries: VecDeque::new(),
            applied,
            caught,
        }
    }

    /// Opens the entry of the frame numbered `seq`.
    pub(super) fn frame(&mut self, seq: u64) {
        self.open(Some(seq), None);
    }

    /// Opens the entry of `channel`'s catch-up.
    pub(super) fn catch_up(&mut self, channel: u64) {
        self.caught.remove(&channel);
        self.open(None, Some(channel));
    }

    fn open(&mut self, seq: Option<u64>, channel: Option<u64>) {
        self.entries.push_back(Entry {
            seq,
            channel,
            waits: Vec::new(),
        });
    }

    /// Waits for `answer` before the entry opened last finishes.
    pub(super) fn wait(&mut self, answer: oneshot::Receiver<Applied>) {
        match self.entries.back_mut() {
            Some(entry) => entry.waits.push(answer),
            // Nothing opened (cannot happen: every push follows a frame or a catch-up): an
            // entry of its own keeps the answer counted.
            None => self.entries.push_back(Entry {
                seq: None,
                channel: None,
                waits: vec![answer],
            }),
        }
    }

    /// `channel` is no longer relayed: it is not caught up any more.
    pub(super) fn forget(&mut self, channel: u64) {
        self.caught.remove(&channel);
    }

    /// Finishes the entries whose answers are in, in order; whether anything finished.
    pub(super) fn advance(&mut self) -> bool {
        let mut moved = false;
        while let Some(entry) = self.entries.front_mut() {
            let mut open = false;
            entry.waits.retain_mut(|rx| match rx.try_recv() {
                Ok(_) => false,
                Err(TryRecvError::Empty | TryRecvError::Closed) => {
                    open = true;
                    true
                }
            });
            if open {
                break;
            }
            if let Some(seq) = entry.seq {
                self.applied = self.applied.max(seq);
            }
            if let Some(channel) = entry.channel {
                self.caught.insert(channel);
            }
            self.entries.pop_front();
            moved = true;
        }
        moved
    }

    /// The highest sequence number applied with all before it (0: none yet).
    pub(super) fn applied(&self) -> u64 {
        self.applied
    }

    /// The channels caught up as of [`Acks::applied`].
    pub(super) fn caught(&self) -> &BTreeSet<u64> {
        &self.caught
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> (oneshot::Sender<Applied>, oneshot::Receiver<Applied>) {
        oneshot::channel()
    }

    #[test]
    fn the_applied_sequence_stops_before_the_first_unanswered_event() {
        let mut acks = Acks::default();
        acks.frame(1);
        acks.catch_up(10);
        let (c1, r) = answer();
        acks.wait(r);
        acks.frame(2);
        acks.frame(3);
        let (e3, r) = answer();
        acks.wait(r);
        acks.frame(4);
        let (e4, r) = answer();
        acks.wait(r);
        assert!(acks.advance());
        assert_eq!(acks.applied(), 1);
        assert!(acks.caught().is_empty());
        // Answered out of order (two channels): nothing passes the first unanswered.
        e4.send(Applied::Superseded).unwrap();
        assert!(!acks.advance());
        assert_eq!(acks.applied(), 1);
        c1.send(Applied::Superseded).unwrap();
        acks.advance();
        assert_eq!(acks.applied(), 2);
        assert_eq!(acks.caught(), &BTreeSet::from([10]));
        // Dropped unanswered: never counted.
        drop(e3);
        acks.advance();
        assert_eq!(acks.applied(), 2);
        acks.forget(10);
        assert!(acks.caught().is_empty());
    }
}
