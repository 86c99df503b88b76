//! The world of the exporter's tests (adapter-keybase/tests/exporter) and the stand-in's API
//! tests: a big team with channels, a subteam whose channel the user never joined, a direct
//! chat with attachments, a group chat; edits, deletes, reactions, a reply, system and headline
//! messages; follows, proofs, KBFS, git.

use crate::StandIn;

/// `acme#general` gets this many plain messages after its setup ones.
pub const GENERAL_BULK: u64 = 23;

/// Builds the world in a new state folder.
pub fn build() -> StandIn {
    let s = StandIn::new();
    s.write(
        "users.json",
        r#"{"me": "alice", "users": [
            {"username": "alice", "full_name": "Alice A", "following": ["bob", "carol"],
             "proofs": [{"service": "github", "value": "alice"}, {"service": "dns", "value": "alice.example"}]},
            {"username": "bob", "full_name": "Bob B", "device": "phone", "following": ["alice"]},
            {"username": "carol", "full_name": "Carol C", "following": ["alice"]}]}"#,
    );
    s.write(
        "teams.json",
        r#"{"acme": {"members": {"alice": "owner", "bob": "writer", "carol": "reader"}},
            "acme.ops": {"members": {"alice": "writer", "bob": "admin", "carol": "writer"}}}"#,
    );
    s.write(
        "conversations.json",
        r#"[{"name": "acme", "topic_name": "general"},
            {"name": "acme", "topic_name": "random", "members": ["alice", "bob"]},
            {"name": "acme.ops", "topic_name": "alerts", "members": ["bob", "carol"]},
            {"name": "alice,bob"},
            {"name": "carol,alice,bob"}]"#,
    );
    s.write("git.json", r#"[{"folder": "private/alice", "name": "dotfiles"}, {"folder": "team/acme", "name": "website"}]"#);
    s.write("kbfs/private/alice/notes.txt", "secret notes");
    s.write("kbfs/private/alice/photos/cat.png", "png");
    s.write("kbfs/public/alice/hello.txt", "hi");
    s.write("kbfs/team/acme/plan.md", "# plan");
    s.write("files/alice,bob/3-sunset.png", "PNG-SUNSET-BYTES");
    s.write("files/evil.txt", "EVIL-NAME-BYTES");
    s.post(
        "acme#general",
        &[
            r#"{"id":1,"sender":"alice","sent_at_ms":1600000000000,"type":"system","system":{"systemType":3,"createteam":{"team":"acme","creator":"alice"}}}"#,
            r#"{"id":2,"sender":"alice","sent_at_ms":1600000001000,"type":"text","body":"Welcome to *acme* <3 & more"}"#,
            r#"{"id":3,"sender":"bob","sent_at_ms":1600000002000,"type":"join"}"#,
            r#"{"id":4,"sender":"bob","sent_at_ms":1600000003000,"type":"text","body":"helo all"}"#,
            r#"{"id":5,"sender":"bob","sent_at_ms":1600000004000,"type":"edit","target":4,"body":"hello all"}"#,
            r#"{"id":6,"sender":"carol","sent_at_ms":1600000005000,"type":"text","body":"hi bob","reply_to":4}"#,
            r#"{"id":7,"sender":"carol","sent_at_ms":1600000006000,"type":"attachment","filename":"../../evil.txt","title":"odd name","file":"files/evil.txt"}"#,
            r#"{"id":8,"sender":"alice","sent_at_ms":1600000007000,"type":"reaction","target":6,"emoji":":+1:"}"#,
            r#"{"id":9,"sender":"bob","sent_at_ms":1600000008000,"type":"text","body":"oops, wrong channel"}"#,
            r#"{"id":10,"sender":"bob","sent_at_ms":1600000009000,"type":"delete","targets":[9]}"#,
            r#"{"id":11,"sender":"alice","sent_at_ms":1600000010000,"type":"headline","headline":"Be nice"}"#,
        ],
    );
    let bulk: Vec<String> = (0..GENERAL_BULK)
        .map(|i| {
            let id = 12 + i;
            let who = ["alice", "bob", "carol"][(i % 3) as usize];
            format!(r#"{{"id":{id},"sender":"{who}","sent_at_ms":{},"type":"text","body":"message {id}"}}"#, 1_600_000_100_000 + i * 1000)
        })
        .collect();
    s.post(
        "acme#general",
        &bulk.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    s.post(
        "acme#random",
        &[
            r#"{"id":1,"sender":"bob","sent_at_ms":1600000500000,"type":"text","body":"random thought"}"#,
            r#"{"id":2,"sender":"alice","sent_at_ms":1600000501000,"type":"reaction","target":1,"emoji":":tada:"}"#,
            r#"{"id":3,"sender":"bob","sent_at_ms":1600000502000,"type":"reaction","target":1,"emoji":":tada:"}"#,
        ],
    );
    s.post(
        "acme.ops#alerts",
        &[r#"{"id":1,"sender":"bob","sent_at_ms":1600000600000,"type":"text","body":"disk full on db1"}"#],
    );
    s.post(
        "alice,bob",
        &[
            r#"{"id":1,"sender":"alice","sent_at_ms":1600000700000,"type":"text","body":"sunset pics?"}"#,
            r#"{"id":2,"sender":"bob","sent_at_ms":1600000701000,"type":"text","body":"sure"}"#,
            r#"{"id":3,"sender":"bob","sent_at_ms":1600000702000,"type":"attachment","filename":"sunset.png","title":"Sunset"}"#,
            r#"{"id":4,"sender":"alice","sent_at_ms":1600000703000,"type":"edit","target":3,"body":"Sunset last night"}"#,
        ],
    );
    s.post(
        "alice,bob,carol",
        &[r#"{"id":1,"sender":"carol","sent_at_ms":1600000800000,"type":"text","body":"group hello"}"#],
    );
    s
}

/// The chats the world has.
pub const CHATS: [&str; 5] = [
    "acme#general",
    "acme#random",
    "acme.ops#alerts",
    "alice,bob",
    "alice,bob,carol",
];
