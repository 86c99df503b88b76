//! Posting on schedule: on Keybase through the stand-in, or straight to Synapse as the user.

use std::time::{Duration, Instant};

use adapter_matrix::testing::pushing::Human;
use serde_json::json;

use super::{
    stamp::{now_us, tag},
    world::{SENDERS, World},
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
    /// When the post started (µs).
    pub at: u64,
    /// When Synapse answered the send (direct messages).
    pub acked: Option<u64>,
    /// How late it was posted against the schedule.
    pub lag: Duration,
}

/// Posts the phase's messages on Keybase (`admin post`), from the senders in turn, one thread
/// per channel: a channel's posts never overlap (the stand-in's files take one writer at a
/// time), and a post takes a few milliseconds, far less than a channel's interval.
pub fn on_keybase(world: &World, s: Schedule) -> Vec<Posted> {
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
                        let status = world.post_command(c, sender, &body).status();
                        assert!(status.is_ok_and(|s| s.success()), "cannot post on Keybase");
                        posted.push(Posted {
                            tag,
                            at,
                            acked: None,
                            lag,
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

/// Sends the phase's messages (tagged `kind`) straight to Synapse as `human` into `rooms`, each
/// when it is due whether the ones before were answered or not: what is timed is Synapse's own
/// latency at this rate, with no queue in the client.
pub async fn on_matrix(human: &Human, rooms: &[String], kind: char, s: Schedule) -> Vec<Posted> {
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let tasks: Vec<_> = (0..s.count)
        .map(|i| {
            let (human, room) = (human.clone(), rooms[i % s.channels].clone());
            let due = start + s.offset(i);
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let lag = tokio::time::Instant::now().saturating_duration_since(due);
                let tag = tag(kind, s.first + i);
                let body = json!({"msgtype": "m.text", "body": format!("benchmark message {tag}")});
                let at = now_us();
                let sent = human.send(&room, "m.room.message", body).await;
                let acked = sent.is_ok().then(now_us);
                if let Err(e) = sent {
                    eprintln!("relay bench: direct send failed: {e}");
                }
                Posted {
                    tag,
                    at,
                    acked,
                    lag,
                }
            })
        })
        .collect();
    let mut posted = Vec::new();
    for task in tasks {
        posted.extend(task.await);
    }
    posted
}
