//! A generated team for the team-wide tests: a team with subteams, nine channels and two direct
//! conversations (five messages a chat, a reply and a reaction in each), kept by the Keybase
//! stand-in and exported with `kbbridge export`.

use std::{fs, path::Path};

use crate::support::{kbbridge, keybase_standin, text};

/// The team's channels (team, subteams) and the direct conversations.
pub const CHATS: [(&str, &str); 11] = [
    ("acme", "general"),
    ("acme", "random"),
    ("acme", "dev"),
    ("acme", "design"),
    ("acme.ops", "alerts"),
    ("acme.ops", "deploys"),
    ("acme.ops", "incidents"),
    ("acme.ops.oncall", "pager"),
    ("acme.sales", "leads"),
    ("alice,bob", ""),
    ("alice,bob,carol", ""),
];

/// A Keybase stand-in state with the team and its history (five messages a chat, a reply and
/// a reaction in each), exported with `kbbridge export`; the export folder.
pub fn team_export(dir: &Path) -> std::path::PathBuf {
    let home = dir.join("keybase");
    let write = |name: &str, content: &str| {
        let path = home.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    };
    write(
        "users.json",
        r#"{"me": "alice", "users": [{"username": "alice"}, {"username": "bob"},
            {"username": "carol"}]}"#,
    );
    let members = r#"{"members": {"alice": "owner", "bob": "writer", "carol": "writer"}}"#;
    write(
        "teams.json",
        &format!(
            r#"{{"acme": {members}, "acme.ops": {members}, "acme.ops.oncall": {members},
                "acme.sales": {members}}}"#
        ),
    );
    let conversations: Vec<String> = CHATS
        .iter()
        .map(|(name, topic)| {
            if topic.is_empty() {
                format!(r#"{{"name": "{name}"}}"#)
            } else {
                format!(r#"{{"name": "{name}", "topic_name": "{topic}"}}"#)
            }
        })
        .collect();
    write(
        "conversations.json",
        &format!("[{}]", conversations.join(", ")),
    );
    for (c, (name, topic)) in CHATS.iter().enumerate() {
        let chat = if topic.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name}#{topic}")
        };
        let t0 = 1_600_000_000_000_u64 + c as u64 * 100_000;
        let who = ["alice", "bob", "carol"];
        let mut lines: Vec<String> = (1..=5_u64)
            .map(|id| {
                let sender = who[(id as usize + c) % 2 + usize::from(chat.contains("carol"))];
                let reply = if id == 3 { r#","reply_to":1"# } else { "" };
                format!(
                    r#"{{"id":{id},"sender":"{sender}","sent_at_ms":{},"type":"text","body":"{chat} message {id}"{reply}}}"#,
                    t0 + id * 1000
                )
            })
            .collect();
        lines.push(format!(
            r#"{{"id":6,"sender":"alice","sent_at_ms":{},"type":"reaction","target":2,"emoji":":+1:"}}"#,
            t0 + 6000
        ));
        write(
            &format!("messages/{chat}.jsonl"),
            &(lines.join("\n") + "\n"),
        );
    }
    let out = dir.join("export");
    let done = kbbridge()
        .args(["--config", dir.join("absent.toml").to_str().unwrap()])
        .args(["export", out.to_str().unwrap(), "--chats", "--binary"])
        .arg(keybase_standin())
        .arg("--home")
        .arg(&home)
        .output()
        .unwrap();
    assert!(done.status.success(), "export: {}", text(&done.stderr));
    out
}
