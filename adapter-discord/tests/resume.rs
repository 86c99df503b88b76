//! A restarted source resumes the gateway session of the last run, saved in the store as far
//! as the relay applied its events: what happened while it was down (edits, deletes,
//! reactions, and an event received but never applied) is replayed, once, in order. A saved
//! session Discord no longer knows falls back to a new session and the catch-up.

mod common;

use std::time::Duration;

use adapter_discord::{DiscordSource, KnownChannels};
use bridge_core::{
    AdapterError, ChatRef, Event, Incoming, MappingStore, Platform,
    relay::{Applied, Queued},
};
use common::Rig;
use discord_standin::intents;
use serde_json::Value;
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

/// The `target` kind the source saves its session under.
const SESSION: &str = "gateway-session";

async fn rig() -> Rig {
    common::gateway_rig(intents::PRIVILEGED).await
}

/// A running source, and the relay's part played by the test.
struct Running {
    rx: mpsc::Receiver<Queued>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), AdapterError>>,
    following: watch::Receiver<bool>,
    store: MappingStore,
}

fn start(rig: &Rig, channel: u64) -> Running {
    let source = DiscordSource::with_options(
        rig.sink(),
        KnownChannels::new([channel]),
        common::source_options(),
    );
    let following = source.following();
    let (tx, rx) = mpsc::channel(1000);
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move { source.run(tx, token).await });
    Running {
        rx,
        stop,
        task,
        following,
        store: rig.store.clone(),
    }
}

impl Running {
    /// The next event and its answer, not given yet.
    async fn received(&mut self) -> (Incoming, oneshot::Sender<Applied>) {
        let q = tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("an event should arrive")
            .expect("the source should run");
        (
            q.incoming,
            q.done.expect("every event is handed over acked"),
        )
    }

    /// The next `n` events, each applied as the relay does: its position saved, then answered.
    async fn applied(&mut self, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..n {
            let (incoming, done) = self.received().await;
            if let Some(p) = &incoming.position {
                let chat = ChatRef::new(Platform::Discord, incoming.event.subject().chat.clone());
                self.store.save_live_position(&chat, p).await.unwrap();
            }
            got.push(show(&incoming));
            let _ = done.send(Applied::Relayed(1));
        }
        got
    }

    async fn quiet(&mut self) {
        let more = tokio::time::timeout(Duration::from_millis(700), self.rx.recv()).await;
        assert!(
            more.is_err(),
            "unexpected event: {:?}",
            more.unwrap().map(|q| show(&q.incoming))
        );
    }

    async fn is_following(&mut self) {
        tokio::time::timeout(WAIT, self.following.wait_for(|f| *f))
            .await
            .expect("the source should say it follows")
            .unwrap();
    }

    /// Like a crash: the source's future is dropped mid-run, no close frame, no last save.
    async fn crash(self) {
        self.task.abort();
        assert!(self.task.await.unwrap_err().is_cancelled());
    }
}

fn show(i: &Incoming) -> String {
    match &i.event {
        Event::Message(m) => format!("msg {} {}", m.origin.msg, m.content.text),
        Event::Edit {
            target, content, ..
        } => format!("edit {} {}", target.msg, content.text),
        Event::Delete { target, .. } => format!("delete {}", target.msg),
        Event::ReactionAdded {
            target,
            emoji,
            sender,
            ..
        } => format!("react {} {} {emoji}", target.msg, sender.name),
        Event::ReactionRemoved { target, emoji, .. } => {
            format!("unreact {} {emoji}", target.msg)
        }
    }
}

async fn poll<T>(mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The session the source saved, as JSON.
async fn saved(rig: &Rig) -> Option<Value> {
    let key = rig.standin.guild_id().to_string();
    let raw = rig
        .store
        .target(Platform::Discord, SESSION, &key)
        .await
        .unwrap()?;
    Some(serde_json::from_str(&raw).unwrap())
}

/// Waits until the saved session names the stand-in's session at sequence `seq`.
async fn saved_at(rig: &Rig, seq: u64) -> Value {
    poll(async || {
        saved(rig)
            .await
            .filter(|s| s["seq"] == seq && s["channels"].as_array().is_some_and(|c| !c.is_empty()))
    })
    .await
}

/// The stand-in's only session, once no connection is attached to it.
async fn detached(rig: &Rig) -> u64 {
    poll(async || {
        let sessions = rig.standin.gateway_sessions();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        (!sessions[0].connected).then_some(sessions[0].seq)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_the_session_is_resumed_and_what_happened_meanwhile_comes_once_in_order() {
    let rig = rig().await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let mut run = start(&rig, channel);
    run.is_following().await;
    let ids: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|t| rig.standin.post_as(&ann, channel, t).unwrap())
        .collect();
    let [a, b, c] = ids[..] else { unreachable!() };
    assert_eq!(
        run.applied(3).await,
        [
            format!("msg {a} a"),
            format!("msg {b} b"),
            format!("msg {c} c")
        ]
    );
    let applied = rig.standin.gateway_sessions()[0].seq;
    let session = saved_at(&rig, applied).await;
    // Received but never applied before the crash: the saved sequence stays before it.
    let d = rig.standin.post_as(&ann, channel, "d").unwrap();
    let (got, _unanswered) = run.received().await;
    assert_eq!(show(&got), format!("msg {d} d"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    run.crash().await;
    detached(&rig).await;
    assert_eq!(
        saved(&rig).await,
        Some(session.clone()),
        "no save past what was applied"
    );
    // While kbbridge is down.
    assert!(rig.standin.edit_as(&ann, a, "a, edited"));
    assert!(rig.standin.delete_message(b));
    assert!(rig.standin.react_as(&ann, c, "👍"));
    let before = rig.standin.gateway_stats();
    let mut run = start(&rig, channel);
    assert_eq!(
        run.applied(4).await,
        [
            format!("msg {d} d"),
            format!("edit {a} a, edited"),
            format!("delete {b}"),
            format!("react {c} ann 👍"),
        ]
    );
    run.is_following().await;
    run.quiet().await;
    let stats = rig.standin.gateway_stats();
    assert_eq!(stats.resumes, before.resumes + 1, "{stats:?}");
    assert_eq!(stats.identifies, before.identifies, "{stats:?}");
    // Live again, and the session saved past the replay.
    let e = rig.standin.post_as(&ann, channel, "e").unwrap();
    assert_eq!(run.applied(1).await, [format!("msg {e} e")]);
    let now = saved_at(&rig, rig.standin.gateway_sessions()[0].seq).await;
    assert_eq!(now["id"], session["id"]);
    run.stop.cancel();
    run.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_session_discord_no_longer_knows_falls_back_to_identify_and_catch_up() {
    let rig = rig().await;
    let channel = rig.channel("general");
    let ann = rig.standin.add_human("ann");
    let mut run = start(&rig, channel);
    run.is_following().await;
    let a = rig.standin.post_as(&ann, channel, "a").unwrap();
    assert_eq!(run.applied(1).await, [format!("msg {a} a")]);
    let mut session = saved_at(&rig, rig.standin.gateway_sessions()[0].seq).await;
    run.crash().await;
    detached(&rig).await;
    // A session that is gone at Discord (expired while kbbridge was down).
    session["id"] = "expired".into();
    rig.store
        .save_target(
            Platform::Discord,
            SESSION,
            &rig.standin.guild_id().to_string(),
            &session.to_string(),
            false,
        )
        .await
        .unwrap();
    let missed: Vec<u64> = (0..2)
        .map(|i| {
            rig.standin
                .post_as(&ann, channel, &format!("missed {i}"))
                .unwrap()
        })
        .collect();
    let before = rig.standin.gateway_stats();
    let mut run = start(&rig, channel);
    assert_eq!(
        run.applied(2).await,
        [
            format!("msg {} missed 0", missed[0]),
            format!("msg {} missed 1", missed[1])
        ]
    );
    run.is_following().await;
    run.quiet().await;
    let stats = rig.standin.gateway_stats();
    assert_eq!(
        stats.resumes_refused,
        before.resumes_refused + 1,
        "{stats:?}"
    );
    assert_eq!(stats.resumes, before.resumes, "{stats:?}");
    assert_eq!(stats.identifies, before.identifies + 1, "{stats:?}");
    // The new session is saved in place of the old one.
    let now = poll(async || saved(&rig).await.filter(|s| s["id"] != "expired")).await;
    assert!(
        rig.standin
            .gateway_sessions()
            .iter()
            .any(|s| s.id == now["id"])
    );
    run.stop.cancel();
    run.task.await.unwrap().unwrap();
}
