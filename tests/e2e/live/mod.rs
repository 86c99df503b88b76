//! The live relay through the `kbbridge` binary (`kbbridge run`): the Keybase stand-in on one
//! side, a real Synapse that pushes its transactions to kbbridge on the other
//! (`adapter_matrix::testing::pushing`), with a real Matrix user in the room.
//!
//! On Keybase, `alice` is the bridge account (the stand-in's logged-in user on its own device);
//! `bob` and `carol` are people typing on their own devices (`admin as`). On Matrix, a human
//! account of the test's own is invited to the rooms kbbridge makes (`[matrix.users]`).
//!
//! The tests here run one at a time: the pushing homeserver has one listening address for the
//! appservice.
//!
//! - `both_ways.rs`: a message, a reply, an edit, a reaction and its removal and a delete, each
//!   way, from the right author, and nothing echoed back.
//! - `restarts.rs`: traffic both ways through an echo storm, SIGKILLs, a dying api-listen,
//!   a backfill and a downtime: each message once, in order.
//! - `discord_downtime.rs`: edits, deletes and reactions made on Discord while kbbridge is
//!   down reach Keybase once after the restart (the gateway session resumed).
//! - `notify.rs`: under a service manager: READY=1 once relaying, watchdog pings, STOPPING=1.

mod admin;
mod both_ways;
mod discord;
mod discord_downtime;
mod discord_files;
mod discord_order;
mod discord_ways;
mod instances;
mod notify;
mod reload;
mod restarts;
mod three_way;

use std::{
    fmt::Write as _,
    fs,
    io::{Read, Write as _},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use adapter_keybase::export::chat_info;
use adapter_matrix::{
    localpart,
    testing::{
        ReadBack,
        pushing::{Human, Pushing, pushing},
        unique_prefix,
    },
};
use bridge_core::ChatId;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::Mutex;

use crate::support::{kbbridge, keybase_standin, text};

/// One test at a time on the pushing homeserver.
static PUSHING: Mutex<()> = Mutex::const_new(());

/// How long a relayed event may take to show on the other side.
const ARRIVAL: Duration = Duration::from_secs(60);

/// The `channel` of `acme#general` in a `chat api` request.
const GENERAL: &str = r#""channel":{"name":"acme","members_type":"team","topic_name":"general"}"#;

/// One kbbridge installation relaying the stand-in's `acme#general` with a Matrix room.
struct Live {
    dir: TempDir,
    kb_home: PathBuf,
    config: PathBuf,
    prefix: String,
    pushing: &'static Pushing,
    human: Human,
    read: ReadBack,
    child: Option<Child>,
    /// How many times kbbridge was started (each run logs to its own file).
    runs: u32,
    /// The export a backfill reads (`keybase.export`), once made.
    export: Option<PathBuf>,
    /// More `KBBRIDGE__…` settings for kbbridge.
    env: Vec<(String, String)>,
    /// The `"channel":{…}` the chat is read as (its name may change).
    channel: String,
    /// The Discord stand-in, for links with a Discord side (`discord.rs`).
    discord: Option<discord::DiscordSide>,
}

impl Live {
    /// The stand-in's world (`acme#general` with one message from bob) and a mapping file
    /// with one link of `mode`.
    async fn new(mode: &str) -> Self {
        Self::with(mode, &[], "").await
    }

    /// [`Live::new`] with `history` (stored message lines) for `acme#general` after bob's first
    /// message, and `extra` TOML (sections) in the mapping file.
    async fn with(mode: &str, history: &[String], extra: &str) -> Self {
        let link = format!(
            "[[link]]\nname = \"general\"\nkeybase = \"acme#general\"\nmatrix = \"auto\"\nmode = {mode:?}"
        );
        Self::with_links(&link, history, extra).await
    }

    /// [`Live::with`] with the `[[link]]` tables `links`.
    async fn with_links(links: &str, history: &[String], extra: &str) -> Self {
        let pushing = pushing();
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique_prefix();
        let human_name = format!(
            "human{}",
            prefix.trim_start_matches("kb_").trim_end_matches('_')
        );
        let human = pushing.synapse.human(&human_name).await.unwrap();
        let kb_home = dir.path().join("keybase");
        let write = |name: &str, content: &str| {
            let path = kb_home.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        };
        write(
            "users.json",
            r#"{"me": "alice", "users": [
                {"username": "alice", "full_name": "Alice A"},
                {"username": "bob", "full_name": "Bob B", "device": "phone"},
                {"username": "carol", "full_name": "Carol C", "device": "desktop"}]}"#,
        );
        write(
            "teams.json",
            r#"{"acme": {"members": {"alice": "owner", "bob": "writer", "carol": "writer"}}}"#,
        );
        write(
            "conversations.json",
            r#"[{"name": "acme", "topic_name": "general"}]"#,
        );
        let mut stored = "{\"id\":1,\"sender\":\"bob\",\"sent_at_ms\":1600000000000,\"type\":\"text\",\"body\":\"before the bridge\"}\n".to_owned();
        for line in history {
            writeln!(stored, "{line}").unwrap();
        }
        write("messages/acme#general.jsonl", &stored);
        let mut toml = String::new();
        writeln!(
            toml,
            "[keybase]\nbinary = {:?}\nhome = {:?}\n",
            keybase_standin().display().to_string(),
            kb_home.display().to_string()
        )
        .unwrap();
        writeln!(
            toml,
            "[matrix]\nlisten = \"{}\"\n\n[matrix.users]\ncarol = {:?}\n",
            pushing.listen, human.user_id
        )
        .unwrap();
        writeln!(toml, "{extra}").unwrap();
        writeln!(toml, "{links}").unwrap();
        let config = dir.path().join("kbbridge.toml");
        fs::write(&config, toml).unwrap();
        Self {
            dir,
            kb_home,
            config,
            prefix,
            pushing,
            human,
            read: pushing.synapse.read_back(),
            child: None,
            runs: 0,
            export: None,
            env: Vec::new(),
            channel: GENERAL.to_owned(),
            discord: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let synapse = &self.pushing.synapse;
        let db = format!("sqlite://{}", self.dir.path().join("kbbridge.db").display());
        let mut cmd = kbbridge();
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("KBBRIDGE__DATABASE__URL", db)
            .env("KBBRIDGE__MATRIX__HOMESERVER", synapse.url.as_str())
            .env("KBBRIDGE__MATRIX__SERVER_NAME", &synapse.server_name)
            .env("KBBRIDGE__MATRIX__AS_TOKEN", &synapse.as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", &self.pushing.hs_token)
            .env("KBBRIDGE__MATRIX__GHOST_PREFIX", &self.prefix)
            .env("KBBRIDGE__MATRIX__BOT_LOCALPART", &synapse.bot_localpart)
            .env(
                "RUST_LOG",
                "info,kbbridge=debug,bridge_core=debug,adapter_matrix=debug",
            );
        if let Some(export) = &self.export {
            cmd.env("KBBRIDGE__KEYBASE__EXPORT", export);
        }
        if let Some(discord) = &self.discord {
            discord.point(&mut cmd);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Exports the stand-in's chats with `kbbridge export` (as a team admin would before a
    /// migration); later runs backfill from it.
    fn export(&mut self) {
        let out = self.dir.path().join("export");
        // The mapping file's `both` link needs `keybase.export` set to be valid.
        self.export = Some(out.clone());
        let done = self
            .command(&["export", out.to_str().unwrap(), "--chats"])
            .output()
            .unwrap();
        assert!(done.status.success(), "export: {}", text(&done.stderr));
    }

    /// Starts `kbbridge run` in the background, logging to `run-N.log`.
    fn start(&mut self) {
        assert!(self.child.is_none(), "kbbridge is already running");
        self.runs += 1;
        let log = fs::File::create(self.log_path(self.runs)).unwrap();
        let child = self
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kbbridge run");
        self.child = Some(child);
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("run-{run}.log"))
    }

    /// Every run's log, for failure messages.
    fn logs(&self) -> String {
        (1..=self.runs)
            .map(|r| fs::read_to_string(self.log_path(r)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- next run ---\n")
    }

    /// Stops kbbridge with SIGTERM; its exit code.
    fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!(
                    "kbbridge did not stop within 30 s of SIGTERM:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills kbbridge with SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit code once kbbridge has exited by itself (`Some(None)`: killed by a signal).
    fn exited(&mut self) -> Option<Option<i32>> {
        let child = self.child.as_mut()?;
        let status = child.try_wait().unwrap()?;
        self.child = None;
        Some(status.code())
    }

    /// Fails with the logs when kbbridge has exited.
    fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("kbbridge exited ({status}):\n{}", self.logs());
            }
        }
    }

    /// The room kbbridge made for `acme#general`, once it exists; the human has joined it.
    async fn room(&mut self) -> String {
        let room = self.room_of("acme#general").await;
        self.relaying().await;
        room
    }

    /// The room kbbridge made for `chat`, once it exists; the human has joined it.
    async fn room_of(&mut self, chat: &str) -> String {
        let info = chat_info::describe(&ChatId::new(chat), None);
        let alias = format!(
            "#{}:{}",
            localpart::room_alias(&self.prefix, &info),
            self.pushing.synapse.server_name
        );
        let started = Instant::now();
        let room = loop {
            self.assert_running();
            if let Ok(room) = self.read.alias(&alias).await {
                break room;
            }
            assert!(
                started.elapsed() < ARRIVAL,
                "no room {alias}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        // Invited as the room is made; the invite may trail the alias.
        loop {
            match self.human.join(&room).await {
                Ok(()) => break,
                Err(e) => {
                    assert!(started.elapsed() < ARRIVAL, "cannot join {room}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        room
    }

    /// Waits until this run relays (its Keybase side listens: a relay-only link relays what is
    /// said from then on).
    async fn relaying(&mut self) {
        let started = Instant::now();
        loop {
            self.assert_running();
            let log = fs::read_to_string(self.log_path(self.runs)).unwrap_or_default();
            if log.contains("relaying; stop with") {
                return;
            }
            assert!(
                started.elapsed() < ARRIVAL * 2,
                "not relaying:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ghost of the Keybase user `name`.
    fn ghost(&self, name: &str) -> String {
        format!(
            "@{}:{}",
            localpart::ghost(&self.prefix, name),
            self.pushing.synapse.server_name
        )
    }

    /// Who acts on Keybase, from any thread.
    fn keybase(&self) -> Keybase {
        Keybase {
            home: self.kb_home.clone(),
        }
    }

    /// One `chat api` request on `acme#general` as `who` (`bob`, `alice:phone`); the result.
    fn kb(&self, who: &str, method: &str, options: &str) -> Value {
        self.keybase().act(who, method, options)
    }

    /// [`Live::kb`] for a write: the new message's id.
    fn kb_write(&self, who: &str, method: &str, options: &str) -> u64 {
        self.keybase().write(who, method, options)
    }

    /// Every message of `acme#general` as `read` shows it now (edits folded in, deleted ones
    /// gone), oldest first.
    fn kb_messages(&self) -> Vec<Value> {
        let result = self.keybase().act_in(
            &self.channel,
            "alice",
            "read",
            r#""pagination":{"num":1000}"#,
        );
        let mut messages: Vec<Value> = result["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|w| w["msg"].clone())
            .collect();
        messages.reverse();
        messages
    }

    /// Waits until `check` finds what it looks for in `acme#general`.
    async fn on_keybase<T>(&mut self, what: &str, check: impl Fn(&[Value]) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            self.assert_running();
            let messages = self.kb_messages();
            if let Some(found) = check(&messages) {
                return found;
            }
            assert!(
                started.elapsed() < ARRIVAL,
                "not on Keybase within {ARRIVAL:?}: {what}\nmessages: {messages:#?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `check` finds what it looks for in the timeline of `room`.
    async fn on_matrix<T>(
        &mut self,
        room: &str,
        what: &str,
        check: impl Fn(&[Value]) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            self.assert_running();
            let events = self.read.messages(room).await.unwrap();
            if let Some(found) = check(&events) {
                return found;
            }
            assert!(
                started.elapsed() < ARRIVAL,
                "not on Matrix within {ARRIVAL:?}: {what}\nevents: {events:#?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Live {
    /// PUTs `body` as transaction `txn` to kbbridge's appservice listener with `token`, as the
    /// homeserver would; the HTTP status.
    fn push(&self, token: &str, txn: &str, body: &str) -> u16 {
        let mut stream = TcpStream::connect(self.pushing.listen).unwrap();
        let request = format!(
            "PUT /_matrix/app/v1/transactions/{txn} HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.pushing.listen,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
    }
}

/// Stored messages `old<id>.` from carol with ids `ids`, a second apart: a history to backfill.
fn carol_history(ids: std::ops::Range<u64>) -> Vec<String> {
    ids.map(|id| {
        format!(
            r#"{{"id":{id},"sender":"carol","sent_at_ms":{},"type":"text","body":"old{id}."}}"#,
            1_600_000_000_000_u64 + id * 1000
        )
    })
    .collect()
}

/// People acting on the stand-in's `acme#general`.
#[derive(Clone)]
struct Keybase {
    home: PathBuf,
}

impl Keybase {
    /// One `chat api` request as `who` (`bob`, `alice:phone`); the result.
    fn act(&self, who: &str, method: &str, options: &str) -> Value {
        self.act_in(GENERAL, who, method, options)
    }

    /// [`Keybase::act`] in `channel` (a `"channel":{…}` option).
    fn act_in(&self, channel: &str, who: &str, method: &str, options: &str) -> Value {
        let request =
            format!(r#"{{"method":"{method}","params":{{"options":{{{channel},{options}}}}}}}"#);
        let out = Command::new(keybase_standin())
            .arg("--home")
            .arg(&self.home)
            .args(["admin", "as", who, &request])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{who} {method}: {}",
            text(&out.stderr)
        );
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
        reply["result"].clone()
    }

    /// [`Keybase::act`] for a write: the new message's id.
    fn write(&self, who: &str, method: &str, options: &str) -> u64 {
        let result = self.act(who, method, options);
        result["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{method} as {who}: {result}"))
    }

    /// [`Keybase::write`] in `channel`.
    fn write_in(&self, channel: &str, who: &str, method: &str, options: &str) -> u64 {
        let result = self.act_in(channel, who, method, options);
        result["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{method} as {who}: {result}"))
    }

    /// `who` says `body`; the message's id.
    fn say(&self, who: &str, body: &str) -> u64 {
        self.write(who, "send", &format!(r#""message":{{"body":{body:?}}}"#))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The room messages in `events` (edits included) sent by `sender`.
fn messages_from<'a>(events: &'a [Value], sender: &str) -> impl Iterator<Item = &'a Value> {
    let sender = sender.to_owned();
    events
        .iter()
        .filter(move |e| e["type"] == "m.room.message" && e["sender"] == sender.as_str())
}

/// The event in `events` whose `body` is `body`, sent by `sender`, if any.
fn event_with_body<'a>(events: &'a [Value], sender: &str, body: &str) -> Option<&'a Value> {
    messages_from(events, sender).find(|e| e["content"]["body"] == body)
}

/// Whether `event` is redacted in `events` (the event itself is shown redacted).
fn redacted(events: &[Value], event: &str) -> bool {
    events
        .iter()
        .any(|e| e["event_id"] == event && e["unsigned"]["redacted_because"].is_object())
}
