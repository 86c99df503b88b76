//! The admin listener of `kbbridge run`: health without a token, everything else only with
//! it; readiness following the parts (down while the backfill runs, up once relaying);
//! Prometheus metrics that parse and move when messages flow; the status as JSON.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{ARRIVAL, Live, PUSHING, event_with_body};

const TOKEN: &str = "admin-t0ken-for-tests";

/// A free loopback port now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` on `addr` with `token` (none: no header): (status, body); `None` when nothing
/// listens yet.
fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, dechunk(body)))
}

/// The body of a chunked answer, joined (axum chunks bodies of unknown length).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    if out.is_empty() { body.to_owned() } else { out }
}

/// The samples of `metric` in Prometheus text `text`, by their label set; every line of the
/// text must be a comment or a sample.
fn samples(text: &str, metric: &str) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# TYPE ") || line.starts_with("# HELP "),
                "not Prometheus text: {line:?}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name:?}"
        );
        if name == metric {
            found.push((labels.trim_end_matches('}').to_owned(), value));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_answers_health_readiness_metrics_and_status() {
    let _one = PUSHING.lock().await;
    // A `both` link whose backfill is slow: /ready says the Keybase side waits for it.
    let history = super::carol_history(2..32);
    let pace = "[backfill.rate.matrix]\nmessages_per_second = 5\nburst = 1\n";
    let mut live = Live::with("both", &history, pace).await;
    let addr = free_addr();
    live.env
        .push(("KBBRIDGE__ADMIN__LISTEN".into(), addr.to_string()));
    live.env
        .push(("KBBRIDGE__ADMIN__TOKEN".into(), TOKEN.into()));
    live.export();
    live.start();

    // Health answers at once, without a token; readiness waits for the backfill.
    let started = Instant::now();
    let (status, body) = loop {
        live.assert_running();
        if let Some((status, body)) = get(addr, "/ready", Some(TOKEN)) {
            if status == 503 && body.contains("waiting for the backfill") {
                break (status, body);
            }
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "no 503 from /ready:\n{}",
            live.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, &ready["ready"]),
        (503, &Value::Bool(false)),
        "{body}"
    );
    assert_eq!(ready["database"]["ok"], true, "{body}");
    assert_eq!(
        get(addr, "/health", None).unwrap(),
        (200, "ok\n".to_owned())
    );

    // Nothing but health without the token.
    for path in ["/ready", "/metrics", "/api/v1/status"] {
        assert_eq!(get(addr, path, None).unwrap().0, 401, "{path}");
        assert_eq!(get(addr, path, Some("wrong")).unwrap().0, 401, "{path}");
    }

    // Ready once relaying.
    let room = live.room().await;
    let (status, body) = get(addr, "/ready", Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");

    // Metrics parse, and move with a live message.
    let copied = |text: &str| -> f64 {
        samples(text, "kbbridge_messages_total")
            .iter()
            .filter(|(labels, _)| {
                labels.contains(r#"direction="keybase>matrix""#)
                    && labels.contains(r#"outcome="copied""#)
            })
            .map(|(_, v)| v)
            .sum()
    };
    let (_, before) = get(addr, "/metrics", Some(TOKEN)).unwrap();
    assert!(
        copied(&before) >= 30.0,
        "the backfill's 31 messages: {before}"
    );
    assert_eq!(samples(&before, "kbbridge_build_info").len(), 1, "{before}");
    live.keybase().say("bob", "counted.");
    let bob = live.ghost("bob");
    live.on_matrix(&room, "the live message", |events| {
        event_with_body(events, &bob, "counted.").map(|_| ())
    })
    .await;
    let (_, after) = get(addr, "/metrics", Some(TOKEN)).unwrap();
    assert!(copied(&after) > copied(&before), "{after}");
    for metric in [
        "kbbridge_parts_sent_total",
        "kbbridge_send_seconds_bucket",
        "kbbridge_relay_events_total",
        "kbbridge_leases_held",
    ] {
        assert!(!samples(&after, metric).is_empty(), "{metric}:\n{after}");
    }

    // The status as JSON: the job and the lease this process holds.
    let (status, body) = get(addr, "/api/v1/status", Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    let job = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["source"] == "keybase:acme#general")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(job["copied"].as_u64().unwrap() >= 32, "{body}");
    assert_eq!(job["state"], "running", "{body}");
    assert!(
        json["leases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "link:keybase:acme#general>matrix"),
        "{body}"
    );
    assert_eq!(live.stop(), Some(0));
    assert!(
        get(addr, "/health", None).is_none(),
        "the listener is gone after the stop"
    );
}
