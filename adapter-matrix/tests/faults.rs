//! Faults Synapse will not produce on demand (rate limits, 5xx, refusals), from a scripted fake
//! homeserver on loopback: how `MatrixSink` classifies them, and that the engine then waits
//! exactly `retry_after_ms`, retries 5xx, and records a refusal without stopping.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use adapter_matrix::{MatrixSink, config::MatrixConfig};
use bridge_core::{
    AdapterError, ChatId, ChatRef, MappingStore, Mode, Outgoing, Platform, Secret, Sink,
    backfill::{Backfill, BackfillJob, BackfillOptions, Target},
    retry::RetryPolicy,
    testing::{FakeHistory, text_message},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;

/// Answers to the next sends, in order; anything else gets a plausible success.
type Script = Arc<Mutex<VecDeque<(u16, &'static str)>>>;

const ROOM: &str = "!room:localhost";

async fn fake_homeserver(script: Script) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn, script.clone(), log.clone()));
        }
    });
    (url, seen)
}

/// HTTP/1.1 with keep-alive, just enough for reqwest.
async fn serve(mut conn: TcpStream, script: Script, seen: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let line = head.lines().next().unwrap_or_default().to_owned();
        seen.lock().unwrap().push(line.clone());
        let (status, body) = if line.contains("/versions") {
            (200, r#"{"versions":["v1.1","v1.11"]}"#)
        } else if line.contains("/send/") {
            script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((200, r#"{"event_id":"$ok"}"#))
        } else if line.contains("/register") {
            (200, r#"{"user_id":"@kb_alice:localhost"}"#)
        } else if line.contains("/whoami") {
            (200, r#"{"user_id":"@kbbridge:localhost"}"#)
        } else if line.contains("/join") {
            (200, r#"{"room_id":"!room:localhost"}"#)
        } else {
            (200, "{}")
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn sink(url: &str) -> (MatrixSink, MappingStore) {
    let store = MappingStore::open("sqlite::memory:").await.unwrap();
    let config = MatrixConfig {
        homeserver: Some(url.parse().unwrap()),
        server_name: Some("localhost".into()),
        as_token: Secret::new("as"),
        hs_token: Secret::new("hs"),
        ..MatrixConfig::default()
    };
    (MatrixSink::new(&config, store.clone()).unwrap(), store)
}

#[tokio::test]
async fn each_error_answer_gets_its_class() {
    let script: Script = Arc::new(Mutex::new(VecDeque::from([
        (
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":1234}"#,
        ),
        (502, "<html>bad gateway</html>"),
        (
            413,
            r#"{"errcode":"M_TOO_LARGE","error":"event too large"}"#,
        ),
        (401, r#"{"errcode":"M_UNKNOWN_TOKEN","error":"bad token"}"#),
        (400, r#"{"errcode":"M_BAD_JSON","error":"no"}"#),
    ])));
    let (url, _) = fake_homeserver(script).await;
    let (sink, _store) = sink(&url).await;
    let msg = text_message(&ChatRef::new(Platform::Keybase, "acme#general"), 1, "hi");
    let out = Outgoing {
        msg: &msg,
        part: 0,
        reply_to: None,
        earlier: &[],
        mode: Mode::Backfill,
    };
    let room = ChatId::new(ROOM);
    let mut classes = Vec::new();
    for _ in 0..6 {
        classes.push(match sink.send(&room, out).await {
            Ok(id) => format!("sent {id}"),
            Err(AdapterError::RateLimited { retry_after }) => {
                format!("rate {}ms", retry_after.as_millis())
            }
            Err(AdapterError::Transient(_)) => "transient".into(),
            Err(AdapterError::Rejected { reason }) => format!(
                "rejected {}",
                reason.contains("M_TOO_LARGE") || reason.contains("M_BAD_JSON")
            ),
            Err(AdapterError::Fatal(_)) => "fatal".into(),
            Err(AdapterError::Unsupported(_)) => "unsupported".into(),
        });
    }
    assert_eq!(
        classes,
        [
            "rate 1234ms",
            "transient",
            "rejected true",
            "fatal",
            "rejected true",
            "sent $ok"
        ]
    );
}

#[tokio::test]
async fn the_engine_waits_retries_and_records_refusals() {
    let script: Script = Arc::new(Mutex::new(VecDeque::from([
        (
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":400}"#,
        ),
        (503, r#"{"errcode":"M_UNKNOWN","error":"overloaded"}"#),
        (200, r#"{"event_id":"$first"}"#),
        (
            413,
            r#"{"errcode":"M_TOO_LARGE","error":"event too large"}"#,
        ),
        (200, r#"{"event_id":"$third"}"#),
    ])));
    let (url, seen) = fake_homeserver(script).await;
    let (sink, store) = sink(&url).await;
    let from = ChatRef::new(Platform::Keybase, "acme#general");
    let history = (1..=3).map(|i| text_message(&from, i, "hi")).collect();
    let to = ChatRef::new(Platform::Matrix, ROOM);
    let job = BackfillJob {
        link: "general".into(),
        source: Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), history)),
        from: from.clone(),
        sink: Arc::new(sink),
        to: Target::Named(to.clone()),
    };
    let retry = RetryPolicy {
        max_attempts: 4,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
    };
    let engine = Backfill::new(
        store.clone(),
        BackfillOptions {
            retry,
            ..BackfillOptions::default()
        },
    );
    let start = Instant::now();
    let summary = engine
        .run_job(&job, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        (summary.copied, summary.rejected, summary.retries),
        (2, 1, 2),
        "{summary:?}"
    );
    let rejected = store.rejected(&from, &to).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].origin.msg.as_str(), "2");
    let sends = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/send/"))
        .count();
    assert_eq!(sends, 5, "one send per attempt");
    // The retries reused the transaction ID: one per source part, whatever the attempts.
    let txns: std::collections::BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| {
            l.split("/send/m.room.message/")
                .nth(1)?
                .split('?')
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(txns.len(), 3, "{txns:?}");
}
