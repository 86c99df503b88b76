//! A gateway session: its intents, its sequence numbers and the replay buffer RESUME draws on.
//! A session outlives its connections: events keep being numbered and buffered while no
//! connection is attached, and a RESUME on a new connection replays what was missed.

use std::collections::VecDeque;

use serde_json::Value;

use super::frames;

/// How many events a session keeps for RESUME; older ones are gone, and a RESUME that needs
/// them gets an invalid session.
pub(crate) const REPLAY_CAPACITY: usize = 1000;

/// Why a RESUME cannot go on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResumeError {
    /// The session does not exist (never did, invalidated, closed by the client) or no longer
    /// holds the events after the client's `seq`: op 9, not resumable.
    Gone,
    /// The client claims a `seq` the session never reached: close 4007.
    AheadOfSession,
}

/// One session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The intents it identified with.
    pub(crate) intents: u64,
    /// The connection it is attached to, if any.
    pub(crate) conn: Option<u64>,
    seq: u64,
    /// (sequence number, frame), oldest first.
    buffer: VecDeque<(u64, String)>,
}

impl Session {
    pub(crate) fn new(intents: u64) -> Self {
        Self {
            intents,
            conn: None,
            seq: 0,
            buffer: VecDeque::new(),
        }
    }

    /// The last sequence number given.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Numbers event `name` and keeps it for RESUME; its frame.
    pub(crate) fn record(&mut self, name: &str, d: &Value) -> String {
        self.seq += 1;
        let frame = frames::dispatch(name, self.seq, d);
        if self.buffer.len() == REPLAY_CAPACITY {
            self.buffer.pop_front();
        }
        self.buffer.push_back((self.seq, frame.clone()));
        frame
    }

    /// Numbers event `name` without keeping it (RESUMED: replaying it would be wrong).
    pub(crate) fn unrecorded(&mut self, name: &str, d: &Value) -> String {
        self.seq += 1;
        frames::dispatch(name, self.seq, d)
    }

    /// The frames after `seq`, in order, for a RESUME from `seq`.
    pub(crate) fn replay_after(&self, seq: u64) -> Result<Vec<String>, ResumeError> {
        if seq > self.seq {
            return Err(ResumeError::AheadOfSession);
        }
        // Everything after `seq` must still be held: the oldest kept must be `seq + 1` or
        // older, unless nothing was numbered after `seq` at all.
        let oldest = self.buffer.front().map_or(self.seq + 1, |(s, _)| *s);
        if seq < self.seq && oldest > seq + 1 {
            return Err(ResumeError::Gone);
        }
        Ok(self
            .buffer
            .iter()
            .filter(|(s, _)| *s > seq)
            .map(|(_, f)| f.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replay_gives_what_follows_seq_and_refuses_what_was_dropped() {
        let mut s = Session::new(0);
        for _ in 0..REPLAY_CAPACITY + 5 {
            s.record("X", &json!({}));
        }
        let last = s.seq();
        assert_eq!(s.replay_after(last).unwrap().len(), 0);
        let two = s.replay_after(last - 2).unwrap();
        assert_eq!(two.len(), 2);
        assert!(two[0].contains(&format!("\"s\":{}", last - 1)));
        assert_eq!(s.replay_after(3), Err(ResumeError::Gone));
        assert_eq!(s.replay_after(last + 1), Err(ResumeError::AheadOfSession));
        // The oldest kept is 6: a client at 5 still gets everything.
        assert_eq!(s.replay_after(5).unwrap().len(), REPLAY_CAPACITY);
    }

    #[test]
    fn resumed_is_numbered_but_never_replayed() {
        let mut s = Session::new(0);
        s.record("A", &json!({}));
        let resumed = s.unrecorded("RESUMED", &json!({}));
        assert!(resumed.contains("\"s\":2"));
        s.record("B", &json!({}));
        let replay = s.replay_after(1).unwrap();
        assert_eq!(replay.len(), 1);
        assert!(replay[0].contains("\"t\":\"B\""));
    }
}
