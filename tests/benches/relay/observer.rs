//! The one observer of arrivals on Matrix: the benchmark's user's `/sync` long-poll, which
//! Synapse answers as soon as an event is persisted in a room it is in. An event is stamped
//! when the answer carrying it is read (`origin_server_ts` is no arrival time: kbbridge sets
//! the Keybase time as the event's timestamp).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use adapter_matrix::testing::pushing::Human;
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

use super::stamp::{now_us, tag_in};

/// Arrivals by tag (first sight, µs), and timelines Synapse cut short (events possibly missed).
#[derive(Default)]
pub struct Seen {
    /// When each tag was first seen.
    pub at: HashMap<String, u64>,
    /// Sync answers whose room timeline was `limited`.
    pub gaps: usize,
}

/// The running observer.
pub struct Observer {
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Observer {
    /// Starts syncing as `human`; returns once the first (initial) sync is done.
    pub async fn start(human: Human) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (ready, started) = oneshot::channel();
        let task = tokio::spawn(observe(human, Arc::clone(&seen), ready));
        let _ = started.await;
        Self { seen, task }
    }

    /// When `tag` was first seen, if it was.
    pub fn arrival(&self, tag: &str) -> Option<u64> {
        self.lock().at.get(tag).copied()
    }

    /// How many of `tags` have been seen.
    pub fn count(&self, tags: &[String]) -> usize {
        let seen = self.lock();
        tags.iter().filter(|t| seen.at.contains_key(*t)).count()
    }

    /// Timelines cut short so far.
    pub fn gaps(&self) -> usize {
        self.lock().gaps
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn observe(human: Human, seen: Arc<Mutex<Seen>>, ready: oneshot::Sender<()>) {
    // Room messages only, many per room so a busy interval is not cut short; nothing else.
    let filter = json!({
        "room": {
            "timeline": {"limit": 1000, "types": ["m.room.message"]},
            "state": {"types": [], "lazy_load_members": true},
            "ephemeral": {"types": []},
            "account_data": {"types": []},
        },
        "presence": {"types": []},
        "account_data": {"types": []},
    });
    let mut ready = Some(ready);
    let mut since: Option<String> = None;
    loop {
        let timeout = if since.is_some() { 10_000 } else { 0 };
        let answer = match human.sync(&filter, since.as_deref(), timeout).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("relay bench: sync failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let at = now_us();
        // The first answer is history: a long timeline cut short there is no gap.
        let gaps = since.is_some();
        record(
            &answer,
            at,
            gaps,
            &mut seen.lock().unwrap_or_else(PoisonError::into_inner),
        );
        since = answer["next_batch"].as_str().map(str::to_owned);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
    }
}

/// Stamps every tagged message of `answer` not seen before with `at`; counts cut timelines
/// when `gaps`.
fn record(answer: &Value, at: u64, gaps: bool, seen: &mut Seen) {
    let Some(rooms) = answer["rooms"]["join"].as_object() else {
        return;
    };
    for room in rooms.values() {
        let timeline = &room["timeline"];
        if gaps && timeline["limited"] == true {
            seen.gaps += 1;
        }
        for event in timeline["events"].as_array().into_iter().flatten() {
            if let Some(tag) = event["content"]["body"].as_str().and_then(tag_in) {
                seen.at.entry(tag.to_owned()).or_insert(at);
            }
        }
    }
}
