//! `kbbridge run` under a service manager (systemd's notification protocol, `sd_notify(3)`):
//! the test is the manager, listening on the Unix datagram socket named by `NOTIFY_SOCKET`.

use std::{
    os::unix::net::UnixDatagram,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{ARRIVAL, Live, PUSHING};

/// The watchdog interval the test asks for (`WATCHDOG_USEC`).
const WATCHDOG: Duration = Duration::from_secs(2);

/// The notifications received, each with when it arrived, in order.
struct Manager {
    received: Arc<Mutex<Vec<(Instant, String)>>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Manager {
    fn listen(path: &Path) -> Self {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (received, done) = (Arc::clone(&received), Arc::clone(&done));
            move || {
                let mut buf = [0_u8; 4096];
                while !done.load(Ordering::SeqCst) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                        received.lock().unwrap().push((Instant::now(), message));
                    }
                }
            }
        });
        Self {
            received,
            done,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<(Instant, String)> {
        self.received.lock().unwrap().clone()
    }

    /// Stops listening once what was sent has been read; every notification received.
    fn stop(mut self) -> Vec<(Instant, String)> {
        std::thread::sleep(Duration::from_millis(500));
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.received()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // A failed test leaves no thread listening behind it.
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Whether `message` (newline-separated assignments) holds the assignment `line`.
fn has(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

#[tokio::test(flavor = "multi_thread")]
async fn run_tells_the_manager_ready_pings_its_watchdog_then_says_stopping() {
    let _one = PUSHING.lock().await;
    let mut live = Live::new("relay").await;
    let socket = live.dir.path().join("notify.sock");
    let manager = Manager::listen(&socket);
    live.env.push((
        "NOTIFY_SOCKET".to_owned(),
        socket.to_str().unwrap().to_owned(),
    ));
    live.env
        .push(("WATCHDOG_USEC".to_owned(), WATCHDOG.as_micros().to_string()));
    live.start();

    // READY=1, once relaying: the first notification, sent after the "relaying" line.
    let started = Instant::now();
    let ready_at = loop {
        live.assert_running();
        let received = manager.received();
        if let Some((at, first)) = received.first() {
            assert!(has(first, "READY=1"), "before READY=1: {received:?}");
            assert!(has(first, "STATUS=relaying 1 link(s)"), "{first:?}");
            let log = std::fs::read_to_string(live.log_path(live.runs)).unwrap();
            assert!(
                log.contains("relaying; stop with"),
                "READY=1 before relaying:\n{log}"
            );
            break *at;
        }
        assert!(
            started.elapsed() < ARRIVAL * 2,
            "no READY=1:\n{}",
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // WATCHDOG=1 at half the interval: three pings within two intervals, none late.
    let pings = loop {
        live.assert_running();
        let pings: Vec<Instant> = manager
            .received()
            .iter()
            .filter(|(_, m)| has(m, "WATCHDOG=1"))
            .map(|(at, _)| *at)
            .collect();
        if pings.len() >= 3 {
            break pings;
        }
        assert!(
            ready_at.elapsed() < WATCHDOG * 2 + Duration::from_secs(1),
            "{} watchdog pings in {:?}",
            pings.len(),
            ready_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for pair in pings.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= WATCHDOG / 4 && gap < WATCHDOG,
            "pings {gap:?} apart, for a watchdog of {WATCHDOG:?}"
        );
    }

    // SIGTERM: STOPPING=1, no ping after it, and a clean stop (0).
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
    let received = manager.stop();
    let stopping = received
        .iter()
        .position(|(_, m)| has(m, "STOPPING=1"))
        .unwrap_or_else(|| panic!("no STOPPING=1: {received:?}"));
    assert!(
        received[stopping + 1..]
            .iter()
            .all(|(_, m)| !has(m, "WATCHDOG=1")),
        "pinged after STOPPING=1: {received:?}"
    );
    assert_eq!(
        received.iter().filter(|(_, m)| has(m, "READY=1")).count(),
        1,
        "{received:?}"
    );
}
