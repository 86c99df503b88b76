//! `chat api-listen` streams the messages added while it runs.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::{standin::binary, world};

#[test]
fn api_listen_streams_new_messages_as_they_are_added() {
    let s = world::build();
    let mut child = Command::new(binary())
        .arg("--home")
        .arg(s.home())
        .args(["chat", "api-listen", "--local"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).unwrap();
    assert!(
        banner.starts_with("Listening for chat notifications. Config: {showLocal:true"),
        "{banner}"
    );
    let (tx, rx) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Give it time to take its first look at the state: older messages are not streamed.
    std::thread::sleep(Duration::from_millis(400));
    let sent = s.api(&[r#"{"method":"send","params":{"options":{"channel":{"name":"alice,bob"},"message":{"body":"mine"}}}}"#]);
    assert_eq!(sent[0]["result"]["id"], 5);
    s.post("acme#random", &[r#"{"id":4,"sender":"bob","sent_at_ms":1600000900000,"type":"edit","target":1,"body":"random thoughts"}"#]);
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a streamed line");
        lines.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    let _ = child.kill();
    let _ = child.wait();
    lines.sort_by_key(|l| l["source"].as_str().unwrap().to_owned());
    let (local, remote) = (&lines[0], &lines[1]);
    assert_eq!(
        (local["type"].as_str(), local["source"].as_str()),
        (Some("chat"), Some("local"))
    );
    assert_eq!(local["msg"]["content"]["text"]["body"], "mine");
    assert!(local["msg"]["prev"].is_null());
    assert_eq!(
        remote["msg"]["content"]["type"], "edit",
        "edits arrive as themselves"
    );
    assert_eq!(
        remote["pagination"],
        serde_json::json!({"next": "04", "previous": "04", "num": 1, "last": false})
    );
}
