//! The idle-memory part: `kbbridge run` serving many relay links, once set up and a few
//! messages went through, sampled from /proc while nothing happens.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use super::{
    keybase_side::SENDERS,
    procfs::{self, Memory},
    stamp::tag,
    world::World,
};

/// Messages relayed before sampling (one on each of the first channels).
const MESSAGES: usize = 5;
/// Quiet time after they arrived, before sampling.
const SETTLE: Duration = Duration::from_secs(5);
/// How long, and how often, memory is sampled.
const SAMPLING: Duration = Duration::from_secs(10);
const EVERY: Duration = Duration::from_millis(200);

/// What the idle relay used.
pub struct Idle {
    /// Relay links served.
    pub links: usize,
    /// From start to "relaying" (rooms made, feed started).
    pub set_up: Duration,
    /// The samples.
    pub samples: Vec<Memory>,
}

/// Runs the idle-memory part with `links` links; keeps the world's folder when `keep`.
pub async fn run(standin: &Path, links: usize, keep: bool) -> Idle {
    let mut world = World::new(links, standin, false).await;
    let started = Instant::now();
    world.start();
    world.relaying().await;
    let set_up = started.elapsed();
    let rooms = world.rooms(false).await;
    for (c, room) in rooms.iter().enumerate().take(MESSAGES) {
        let tag = tag('m', c);
        let status = world
            .post_command(c, SENDERS[c % SENDERS.len()], &format!("a message {tag}"))
            .status();
        assert!(status.is_ok_and(|s| s.success()), "cannot post on Keybase");
        let posted = Instant::now();
        loop {
            world.assert_running();
            let events = world.read.messages(room).await.unwrap_or_default();
            if events.iter().any(|e| {
                e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(&tag))
            }) {
                break;
            }
            assert!(
                posted.elapsed() < Duration::from_secs(60),
                "{tag} not relayed:\n{}",
                world.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let mut samples = Vec::new();
    let sampling = Instant::now();
    while sampling.elapsed() < SAMPLING {
        world.assert_running();
        samples.extend(procfs::memory(world.pid()));
        tokio::time::sleep(EVERY).await;
    }
    world.stop();
    if keep {
        println!("idle world kept in {}", world.keep().display());
    }
    Idle {
        links,
        set_up,
        samples,
    }
}
