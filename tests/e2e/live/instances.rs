//! Three `kbbridge run` processes on one PostgreSQL schema (`[database] shared = true`),
//! relaying live traffic both ways: each message exactly once. The process holding the
//! Keybase listener is killed with SIGKILL mid-traffic; another takes its leases over within
//! about the lease time (3 s here), and nothing is lost or doubled. Likewise for a Discord
//! link: one gateway session among the instances, taken over (resumed) when its holder dies.

use std::{
    collections::BTreeMap,
    fs,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

use super::{
    ARRIVAL, Live, PUSHING,
    restarts::{kb_body, keybase_counts, matrix_counts, mx_body, order_of},
};
use crate::support::text;

/// The lease lifetime the instances run with.
const LEASE: Duration = Duration::from_secs(3);

/// The instances' processes, by number (their logs are the `Live`'s runs 1..=3).
struct Instances(BTreeMap<u32, Child>);

impl Instances {
    fn start(live: &mut Live, n: u32) -> Self {
        let mut children = BTreeMap::new();
        for i in 1..=n {
            let log = fs::File::create(live.log_path(i)).unwrap();
            let child = live
                .command(&["run"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start kbbridge run");
            children.insert(i, child);
        }
        live.runs = n;
        Self(children)
    }

    /// The instance whose process ID is `pid`.
    fn by_pid(&self, pid: u32) -> Option<u32> {
        self.0.iter().find(|(_, c)| c.id() == pid).map(|(i, _)| *i)
    }

    /// Fails with the logs when an instance has exited.
    fn assert_running(&mut self, live: &Live) {
        for (i, child) in &mut self.0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("instance {i} exited ({status}):\n{}", live.logs());
            }
        }
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The leases held now, as `kbbridge status` shows them: name → (kind, holder's process ID).
fn held(live: &Live) -> BTreeMap<String, (String, u32)> {
    let out = live.command(&["status"]).output().unwrap();
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    let shown = text(&out.stdout);
    let mut leases = BTreeMap::new();
    for line in shown.lines().skip_while(|l| *l != "held now:").skip(1) {
        // `  <kind> <name> by <host>/<pid>/<tag> (since …)`
        let mut words = line.split_whitespace();
        let (Some(kind), Some(name), Some("by"), Some(holder)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let pid = holder.split('/').nth(1).and_then(|p| p.parse().ok());
        if let Some(pid) = pid {
            leases.insert(name.to_owned(), (kind.to_owned(), pid));
        }
    }
    leases
}

/// The leases of the relay of `acme#general`: its link, and the two listeners.
const LEASES: [&str; 3] = ["relay:general", "keybase-listen:default", "matrix-ingress"];

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_relay_each_message_once_and_take_over_a_killed_one() {
    let _one = PUSHING.lock().await;
    let Some(url) = crate::writers::postgres().await else {
        return;
    };
    let extra = format!(
        "[database]\nshared = true\n\n[backfill]\nlease_seconds = {}\n",
        LEASE.as_secs()
    );
    let mut live = Live::with("relay", &[], &extra).await;
    live.env.push(("KBBRIDGE__DATABASE__URL".to_owned(), url));
    let mut instances = Instances::start(&mut live, 3);
    let room = live.room_of("acme#general").await;

    // Every lease has a holder among the three, and the Keybase chat is followed.
    let started = Instant::now();
    let holders = loop {
        instances.assert_running(&live);
        let leases = held(&live);
        let following = live.logs().contains("following keybase chat");
        if following && LEASES.iter().all(|l| leases.contains_key(*l)) {
            break leases;
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "leases {leases:?}:\n{}",
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let shown: Vec<String> = LEASES
        .iter()
        .map(|l| format!("{l}: instance {:?}", instances.by_pid(holders[*l].1)))
        .collect();
    eprintln!("held: {shown:?}");
    assert_eq!(holders["relay:general"].0, "link");
    assert_eq!(holders["matrix-ingress"].0, "ingress");
    let victim_pid = holders["keybase-listen:default"].1;
    let victim = instances
        .by_pid(victim_pid)
        .expect("a holder among the three");
    let taken_over: Vec<&str> = LEASES
        .iter()
        .copied()
        .filter(|l| holders[*l].1 == victim_pid)
        .collect();

    // Traffic both ways: Keybase messages from bob, Matrix messages from the human.
    let kb: Vec<String> = (0..40).map(kb_body).collect();
    let mx: Vec<String> = (0..30).map(mx_body).collect();
    let keybase = live.keybase();
    let bodies = kb.clone();
    let posting = std::thread::spawn(move || {
        for b in &bodies {
            keybase.say("bob", b);
            std::thread::sleep(Duration::from_millis(80));
        }
    });
    let (human, target, bodies) = (live.human.clone(), room.clone(), mx.clone());
    let saying = tokio::spawn(async move {
        for b in &bodies {
            let text = json!({"msgtype": "m.text", "body": b});
            human.send(&target, "m.room.message", text).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // Mid-traffic, SIGKILL the instance holding the Keybase listener.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut child = instances.0.remove(&victim).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    let takeover = loop {
        let leases = held(&live);
        let moved = taken_over
            .iter()
            .all(|l| leases.get(*l).is_some_and(|(_, pid)| *pid != victim_pid));
        if moved {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < LEASE * 4,
            "not taken over after {:?}: {leases:?}\n{}",
            killed.elapsed(),
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "instance {victim} killed; {taken_over:?} taken over after {takeover:?} (lease {LEASE:?})"
    );
    assert!(takeover < LEASE + Duration::from_secs(2), "{takeover:?}");
    posting.join().unwrap();
    saying.await.unwrap();

    // Each message on the other side exactly once, in order.
    let bob = live.ghost("bob");
    let started = Instant::now();
    loop {
        instances.assert_running(&live);
        let events = live.read.messages(&room).await.unwrap();
        let messages = live.kb_messages();
        let on_matrix = matrix_counts(&events, &bob, &kb);
        let on_keybase = keybase_counts(&messages, &mx);
        if on_matrix.iter().chain(&on_keybase).all(|&n| n >= 1) {
            let doubled: Vec<_> = kb
                .iter()
                .zip(&on_matrix)
                .chain(mx.iter().zip(&on_keybase))
                .filter(|(_, n)| **n > 1)
                .collect();
            assert!(doubled.is_empty(), "doubled: {doubled:?}\n{}", live.logs());
            let texts: Vec<&str> = super::messages_from(&events, &bob)
                .filter_map(|e| e["content"]["body"].as_str())
                .collect();
            let order = order_of(&texts, &kb);
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "Matrix order: {order:?}"
            );
            let texts: Vec<&str> = messages
                .iter()
                .filter_map(|m| m["content"]["text"]["body"].as_str())
                .collect();
            let order = order_of(&texts, &mx);
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "Keybase order: {order:?}"
            );
            break;
        }
        if started.elapsed() > ARRIVAL {
            let lost: Vec<_> = kb
                .iter()
                .zip(&on_matrix)
                .chain(mx.iter().zip(&on_keybase))
                .filter(|(_, n)| **n == 0)
                .collect();
            panic!("lost: {lost:?}\n{}", live.logs());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!(
        "{} Keybase and {} Matrix messages relayed once each by three instances",
        kb.len(),
        mx.len()
    );

    // The survivors stop cleanly, releasing what they hold.
    for (i, mut child) in std::mem::take(&mut instances.0) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "instance {i}:\n{}", live.logs());
    }
    assert!(held(&live).is_empty(), "every lease released at the stop");
}

/// How many of the Discord channel's messages hold each of `bodies`.
fn discord_counts(live: &Live, bodies: &[String]) -> Vec<usize> {
    let texts: Vec<String> = live
        .discord()
        .messages()
        .into_iter()
        .map(|m| m.content)
        .collect();
    bodies
        .iter()
        .map(|b| texts.iter().filter(|t| t.contains(b.as_str())).count())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_a_discord_link_and_one_takes_the_gateway_over() {
    let _one = PUSHING.lock().await;
    let Some(url) = crate::writers::postgres().await else {
        return;
    };
    // After `[discord]`'s own keys: the instances share the database, with a 3 s lease.
    let extra = format!(
        "\n[database]\nshared = true\n\n[backfill]\nlease_seconds = {}\n",
        LEASE.as_secs()
    );
    let mut live = Live::with_discord("relay", false, &extra).await;
    live.env.push(("KBBRIDGE__DATABASE__URL".to_owned(), url));
    let gateway = format!("discord-gateway:{}", live.discord().standin.guild_id());
    let mut instances = Instances::start(&mut live, 2);
    let wanted = ["relay:general", "keybase-listen:default", gateway.as_str()];
    let started = Instant::now();
    let holders = loop {
        instances.assert_running(&live);
        let leases = held(&live);
        let connected = live.discord().standin.gateway_stats().identifies >= 1;
        if connected && wanted.iter().all(|l| leases.contains_key(*l)) {
            break leases;
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "leases {leases:?}:\n{}",
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(holders[gateway.as_str()].0, "ingress");
    let victim_pid = holders[gateway.as_str()].1;
    let victim = instances
        .by_pid(victim_pid)
        .expect("a holder among the two");
    // One session at a time: the other instance never identified.
    assert_eq!(live.discord().standin.gateway_stats().identifies, 1);

    // Traffic both ways; the gateway's holder is killed mid-way.
    let kb: Vec<String> = (0..30).map(kb_body).collect();
    let dc: Vec<String> = (0..30).map(|i| format!("dc{i}.")).collect();
    let keybase = live.keybase();
    let bodies = kb.clone();
    let posting = std::thread::spawn(move || {
        for b in &bodies {
            keybase.say("bob", b);
            std::thread::sleep(Duration::from_millis(80));
        }
    });
    let side = live.discord();
    let (standin, dana, channel) = (side.standin.clone(), side.dana.clone(), side.channel);
    let bodies = dc.clone();
    let saying = std::thread::spawn(move || {
        for b in &bodies {
            standin.post_as(&dana, channel, b).unwrap();
            std::thread::sleep(Duration::from_millis(80));
        }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut child = instances.0.remove(&victim).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    let takeover = loop {
        let moved = held(&live)
            .get(gateway.as_str())
            .is_some_and(|(_, pid)| *pid != victim_pid);
        if moved {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < LEASE * 4,
            "the gateway not taken over:\n{}",
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("instance {victim} killed; {gateway} taken over after {takeover:?}");
    posting.join().unwrap();
    saying.join().unwrap();

    // Each message on the other side exactly once.
    let started = Instant::now();
    loop {
        instances.assert_running(&live);
        let on_discord = discord_counts(&live, &kb);
        let on_keybase = keybase_counts(&live.kb_messages(), &dc);
        if on_discord.iter().chain(&on_keybase).all(|&n| n >= 1) {
            let doubled: Vec<_> = kb
                .iter()
                .zip(&on_discord)
                .chain(dc.iter().zip(&on_keybase))
                .filter(|(_, n)| **n > 1)
                .collect();
            assert!(doubled.is_empty(), "doubled: {doubled:?}\n{}", live.logs());
            break;
        }
        if started.elapsed() > ARRIVAL {
            let lost: Vec<_> = kb
                .iter()
                .zip(&on_discord)
                .chain(dc.iter().zip(&on_keybase))
                .filter(|(_, n)| **n == 0)
                .collect();
            panic!("lost: {lost:?}\n{}", live.logs());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stats = live.discord().standin.gateway_stats();
    eprintln!("gateway after the takeover: {stats:?}");
    // The taker connected once more: resuming the saved session, or a new one with its
    // catch-up when the resume is refused.
    assert!(stats.connections >= 2, "{stats:?}");
    assert!(stats.identifies + stats.resumes >= 2, "{stats:?}");
    for (i, mut child) in std::mem::take(&mut instances.0) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "instance {i}:\n{}", live.logs());
    }
}
