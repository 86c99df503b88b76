//! The Keybase side every part relays from: the stand-in's state folder (the `bench` team with
//! its channels `bench#c00`, …, and the people who post), its `[keybase]` section of the mapping
//! file, and posting in it (`keybase-standin admin post`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The Keybase people who post (bob, dave, erin), turn about; alice is the bridge account.
pub const SENDERS: [&str; 3] = ["bob", "dave", "erin"];

/// The stand-in's state for one world, and the executable that serves it.
pub struct KeybaseSide {
    home: PathBuf,
    standin: PathBuf,
}

impl KeybaseSide {
    /// The stand-in's `bench` team with `channels` channels (one old message each), in
    /// `dir/keybase`; `standin` is the stand-in executable.
    pub fn new(dir: &Path, channels: usize, standin: &Path) -> Self {
        let home = dir.join("keybase");
        fs::create_dir_all(home.join("messages")).expect("the stand-in's folder");
        let write = |name: &str, content: String| {
            fs::write(home.join(name), content).expect("the stand-in's state");
        };
        let people: Vec<String> = SENDERS
            .iter()
            .map(|s| format!(r#"{{"username": "{s}", "full_name": "{s} B", "device": "phone"}}"#))
            .collect();
        write(
            "users.json",
            format!(
                r#"{{"me": "alice", "users": [{{"username": "alice", "full_name": "Alice A"}},
                {{"username": "carol", "full_name": "Carol C"}}, {}]}}"#,
                people.join(",")
            ),
        );
        let members: Vec<String> = SENDERS
            .iter()
            .map(|s| format!(r#""{s}": "writer""#))
            .collect();
        write(
            "teams.json",
            format!(
                r#"{{"bench": {{"members": {{"alice": "owner", "carol": "writer", {}}}}}}}"#,
                members.join(",")
            ),
        );
        let convs: Vec<String> = (0..channels)
            .map(|c| format!(r#"{{"name": "bench", "topic_name": "{}"}}"#, topic(c)))
            .collect();
        write("conversations.json", format!("[{}]", convs.join(",")));
        for c in 0..channels {
            write(
                &format!("messages/{}.jsonl", chat(c)),
                "{\"id\":1,\"sender\":\"bob\",\"sent_at_ms\":1600000000000,\"type\":\"text\",\"body\":\"before the bridge\"}\n".to_owned(),
            );
        }
        Self {
            home,
            standin: standin.to_owned(),
        }
    }

    /// The stand-in executable.
    pub fn standin(&self) -> &Path {
        &self.standin
    }

    /// The mapping file's `[keybase]` section. `through_tee`: kbbridge's `[keybase] binary` is
    /// this benchmark, stamping api-listen's lines (`tee.rs`); else the stand-in itself.
    pub fn toml(&self, through_tee: bool) -> String {
        let binary = if through_tee {
            std::env::current_exe().expect("the benchmark's own path")
        } else {
            self.standin.clone()
        };
        format!(
            "[keybase]\nbinary = {:?}\nhome = {:?}\n",
            binary.display().to_string(),
            self.home.display().to_string()
        )
    }

    /// A command appending a text message from `sender` to channel `c` (`admin post`).
    pub fn post_command(&self, c: usize, sender: &str, body: &str) -> Command {
        let json = serde_json::json!({"sender": sender, "type": "text", "body": body});
        let mut cmd = Command::new(&self.standin);
        cmd.arg("--home")
            .arg(&self.home)
            .args(["admin", "post", &chat(c), &json.to_string()])
            .stdout(Stdio::null());
        cmd
    }
}

/// The topic of channel `c`.
pub fn topic(c: usize) -> String {
    format!("c{c:02}")
}

/// The stand-in chat of channel `c`: `bench#c00`.
pub fn chat(c: usize) -> String {
    format!("bench#{}", topic(c))
}
