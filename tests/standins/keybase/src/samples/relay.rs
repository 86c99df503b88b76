//! The world of the live side's tests (adapter-keybase/tests/live) and the stand-in's relay
//! rules: `alice` is the bridge account (logged in on her "laptop", which is the stand-in's own
//! device; she also has a "phone"), `bob` and `carol` are people.

use crate::StandIn;

/// A team channel and a direct chat, each with a first message from bob.
pub fn build() -> StandIn {
    let s = StandIn::new();
    s.write(
        "users.json",
        r#"{"me": "alice", "users": [
            {"username": "alice", "full_name": "Alice A"},
            {"username": "bob", "full_name": "Bob B", "device": "phone"},
            {"username": "carol", "full_name": "Carol C", "device": "desktop"}]}"#,
    );
    s.write(
        "teams.json",
        r#"{"acme": {"members": {"alice": "owner", "bob": "writer", "carol": "writer"}}}"#,
    );
    s.write(
        "conversations.json",
        r#"[{"name": "acme", "topic_name": "general"}, {"name": "alice,bob"}]"#,
    );
    s.post(
        "acme#general",
        &[r#"{"id":1,"sender":"bob","sent_at_ms":1600000000000,"type":"text","body":"first"}"#],
    );
    s.post(
        "alice,bob",
        &[r#"{"id":1,"sender":"bob","sent_at_ms":1600000000000,"type":"text","body":"dm first"}"#],
    );
    s
}

/// The `channel` of `acme#general` in a request.
pub const GENERAL: &str =
    r#""channel":{"name":"acme","members_type":"team","topic_name":"general"}"#;

/// Makes one `chat api` request as `who` (`bob`, `alice:phone`); the reply.
pub fn act(s: &StandIn, who: &str, method: &str, options: &str) -> serde_json::Value {
    let request = format!(r#"{{"method":"{method}","params":{{"options":{{{options}}}}}}}"#);
    let out = s.run(&["admin", "as", who, &request], "");
    assert!(
        out.status.success(),
        "admin as {who} {method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `act` for a write: the new message's id.
pub fn write(s: &StandIn, who: &str, method: &str, options: &str) -> u64 {
    let reply = act(s, who, method, options);
    reply["result"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{method} as {who}: {reply}"))
}

/// Every message of `acme#general` as `read` shows it, newest first.
pub fn read_general(s: &StandIn) -> Vec<serde_json::Value> {
    let reply = s.api(&[&format!(
        r#"{{"method":"read","params":{{"options":{{{GENERAL},"pagination":{{"num":1000}}}}}}}}"#
    )]);
    reply[0]["result"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["msg"].clone())
        .collect()
}

/// Message `id` of `acme#general` as `read` shows it (`None` when deleted).
pub fn general_msg(s: &StandIn, id: u64) -> Option<serde_json::Value> {
    read_general(s).into_iter().find(|m| m["id"] == id)
}
