//! Posting on schedule: on Keybase through the stand-in, or straight to Synapse as the user.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use adapter_matrix::{parts, testing::pushing::Human};
use bridge_core::{ChatRef, Platform, testing::text_message};
use serde_json::{Value, json};

use super::{
    keybase_side::{KeybaseSide, SENDERS, chat},
    stamp::{now_us, tag},
};

/// When and how many messages a phase posts.
#[derive(Clone, Copy)]
pub struct Schedule {
    /// The number of the phase's first message (tags stay unique over phases).
    pub first: usize,
    /// Messages in the phase.
    pub count: usize,
    /// Messages per second, over all channels.
    pub rate: f64,
    /// Channels (or rooms): message `i` of the phase goes to `i % channels`.
    pub channels: usize,
}

impl Schedule {
    /// When message `i` of the phase is due, from its start.
    fn offset(&self, i: usize) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }
}

/// One posted message.
pub struct Posted {
    /// Its tag.
    pub tag: String,
    /// When the post started (µs); for a direct send, when it was due.
    pub at: u64,
    /// When Synapse answered the send (direct messages).
    pub acked: Option<u64>,
    /// How late it was posted against the schedule.
    pub lag: Duration,
    /// Its channel (or room), by number.
    pub channel: usize,
    /// Its Keybase message ID (relayed messages).
    pub id: Option<u64>,
    /// The transaction ID its send to Synapse has: kbbridge's for its copy (relayed), the
    /// benchmark's (direct).
    pub txn: Option<String>,
}

/// Posts the phase's messages on Keybase (`admin post`), from the senders in turn, one thread
/// per channel: a channel's posts never overlap (the stand-in's files take one writer at a
/// time), and a post takes a few milliseconds, far less than a channel's interval.
pub fn on_keybase(keybase: &KeybaseSide, s: Schedule) -> Vec<Posted> {
    let start = Instant::now() + Duration::from_millis(100);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..s.channels)
            .map(|c| {
                scope.spawn(move || {
                    let mut posted = Vec::new();
                    for i in (c..s.count).step_by(s.channels) {
                        let due = start + s.offset(i);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        let lag = Instant::now().saturating_duration_since(due);
                        let n = s.first + i;
                        let tag = tag('r', n);
                        let sender = SENDERS[(n / s.channels) % SENDERS.len()];
                        let body = format!("benchmark message {tag} from {sender}");
                        let at = now_us();
                        let out = keybase
                            .post_command(c, sender, &body)
                            .stdout(Stdio::piped())
                            .output()
                            .expect("run the stand-in");
                        assert!(out.status.success(), "cannot post on Keybase");
                        let id = serde_json::from_slice::<Value>(&out.stdout)
                            .ok()
                            .and_then(|v| v["id"].as_u64());
                        posted.push(Posted {
                            tag,
                            at,
                            acked: None,
                            lag,
                            channel: c,
                            id,
                            txn: id.map(|id| txn(c, id)),
                        });
                    }
                    posted
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The transaction ID kbbridge sends the copy of message `id` of channel `c` with.
fn txn(c: usize, id: u64) -> String {
    let msg = text_message(&ChatRef::new(Platform::Keybase, chat(c)), id, "");
    parts::txn_id(&msg, 0)
}

/// How a client sends into a room.
#[derive(Clone, Copy, PartialEq)]
pub enum Order {
    /// Each message when it is due, whether the ones before were answered or not: the time is
    /// Synapse's own at this rate, with no queue in the client.
    Concurrent,
    /// One message in flight per room, as kbbridge's relay sends (a chat's messages must land
    /// in order): each when it is due or when the one before was answered, whichever is later.
    InOrder,
}

/// Sends the phase's messages (tagged `kind`) straight to Synapse into `rooms`, sent as `order`
/// says, from `senders` in turn as [`on_keybase`] takes the senders (one per [`SENDERS`]).
/// Each is stamped with the time it was due, so a message waiting behind the one before in its
/// room counts that wait, as a relayed message waiting in kbbridge does.
pub async fn on_matrix(
    senders: &[Human],
    rooms: &[String],
    kind: char,
    order: Order,
    s: Schedule,
) -> Vec<Posted> {
    let (start, start_us) = (
        tokio::time::Instant::now() + Duration::from_millis(100),
        now_us() + 100_000,
    );
    // One task per message, or per room sending its messages in turn.
    let queues: Vec<Vec<usize>> = match order {
        Order::Concurrent => (0..s.count).map(|i| vec![i]).collect(),
        Order::InOrder => (0..s.channels)
            .map(|c| (c..s.count).step_by(s.channels).collect())
            .collect(),
    };
    let tasks: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let senders = senders.to_vec();
            let rooms = rooms.to_vec();
            tokio::spawn(async move {
                let mut posted = Vec::new();
                for i in queue {
                    let offset = s.offset(i);
                    tokio::time::sleep_until(start + offset).await;
                    let lag = tokio::time::Instant::now().saturating_duration_since(start + offset);
                    let tag = tag(kind, s.first + i);
                    // The empty `m.mentions` kbbridge's copies carry: Synapse checks it (`main.rs`).
                    let body = json!({
                        "msgtype": "m.text",
                        "body": format!("benchmark message {tag}"),
                        "m.mentions": {},
                    });
                    let at = start_us + u64::try_from(offset.as_micros()).unwrap_or(u64::MAX);
                    // Unique over runs too: the user's transaction IDs outlive the world.
                    let txn = format!("bench.{}.{tag}", std::process::id());
                    let human = &senders[((s.first + i) / s.channels) % senders.len()];
                    let sent = human
                        .send_with_txn(&rooms[i % s.channels], "m.room.message", &txn, body)
                        .await;
                    let acked = sent.is_ok().then(now_us);
                    if let Err(e) = sent {
                        eprintln!("relay bench: direct send failed: {e}");
                    }
                    let channel = i % s.channels;
                    posted.push(Posted {
                        tag,
                        at,
                        acked,
                        lag,
                        channel,
                        id: None,
                        txn: Some(txn),
                    });
                }
                posted
            })
        })
        .collect();
    let mut posted = Vec::new();
    for task in tasks {
        posted.extend(task.await.unwrap_or_default());
    }
    posted
}
