//! A stand-in state folder for one test, and helpers to drive and observe the stand-in. Like
//! the tests they serve, they panic on anything unexpected (an unwritable folder, a reply that
//! is not JSON).

use std::{
    fs,
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use crate::executable;

/// A state folder in a temporary directory, removed when dropped.
pub struct StandIn {
    /// The folder.
    pub dir: tempfile::TempDir,
}

impl Default for StandIn {
    fn default() -> Self {
        Self::new()
    }
}

impl StandIn {
    /// An empty state (write `users.json` and the rest with [`StandIn::write`]).
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The state folder.
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a state file (creating folders).
    pub fn write(&self, name: &str, content: &str) {
        let path = self.home().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Appends stored messages (one JSON object per line) to `messages/<chat>.jsonl`.
    pub fn post(&self, chat: &str, lines: &[&str]) {
        let path = self.home().join("messages").join(format!("{chat}.jsonl"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for line in lines {
            writeln!(f, "{line}").unwrap();
        }
    }

    /// The logged requests as (command, method).
    pub fn requests(&self) -> Vec<(String, String)> {
        let log = fs::read_to_string(self.home().join("requests.log")).unwrap_or_default();
        log.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["cmd"].as_str().unwrap().to_owned(),
                    v["method"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// How many `chat api` requests of `method` were logged.
    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(c, m)| c == "chat api" && m == method)
            .count()
    }

    /// Forgets the logged requests.
    pub fn clear_log(&self) {
        let _ = fs::remove_file(self.home().join("requests.log"));
    }

    /// Runs the stand-in with `args`, feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(executable())
            .arg("--home")
            .arg(self.home())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `chat api` with one request per line; the reply lines.
    pub fn api(&self, requests: &[&str]) -> Vec<serde_json::Value> {
        let out = self.run(&["chat", "api"], &requests.join("\n"));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
