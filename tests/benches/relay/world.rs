//! One kbbridge installation relaying `channels` stand-in channels (`bench#c00`, …) with as many
//! Matrix rooms it makes itself (`matrix = "auto"`), on the pushing Synapse, as
//! tests/e2e/live/ sets one up; and the benchmark's Matrix user, invited to those rooms.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
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
use tempfile::TempDir;

use super::tee::{LINES_VAR, STANDIN_VAR, pids_path};

/// The Keybase people who post (bob, dave, erin), turn about; alice is the bridge account.
pub const SENDERS: [&str; 3] = ["bob", "dave", "erin"];

/// kbbridge's `RUST_LOG` (default `info`): `debug` levels show where an event's time goes.
pub const LOG_VAR: &str = "KBBRIDGE_BENCH_LOG";

/// How long kbbridge may take to make its rooms.
const SET_UP: Duration = Duration::from_secs(600);

/// A stand-in world, its mapping file and the `kbbridge run` serving it.
pub struct World {
    dir: TempDir,
    kb_home: PathBuf,
    config: PathBuf,
    standin: PathBuf,
    prefix: String,
    pushing: &'static Pushing,
    /// The benchmark's Matrix user, mapped to the Keybase user carol (so invited).
    pub human: Human,
    /// Reads Synapse as the bridge bot.
    pub read: ReadBack,
    channels: usize,
    child: Option<Child>,
}

impl World {
    /// The stand-in's `bench` team with `channels` channels (one old message each) and a
    /// mapping file relaying each to an auto-made Matrix room. `through_tee`: kbbridge's
    /// `[keybase] binary` is this benchmark, stamping api-listen's lines (`tee.rs`).
    pub async fn new(channels: usize, standin: &Path, through_tee: bool) -> Self {
        let pushing = pushing();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let prefix = unique_prefix();
        let human_name = format!(
            "bench{}",
            prefix.trim_start_matches("kb_").trim_end_matches('_')
        );
        let human = pushing
            .synapse
            .human(&human_name)
            .await
            .expect("a Matrix user");
        let kb_home = dir.path().join("keybase");
        fs::create_dir_all(kb_home.join("messages")).expect("the stand-in's folder");
        let write = |name: &str, content: String| {
            fs::write(kb_home.join(name), content).expect("the stand-in's state");
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
        let binary = if through_tee {
            std::env::current_exe().expect("the benchmark's own path")
        } else {
            standin.to_owned()
        };
        let mut toml = String::new();
        let _ = writeln!(
            toml,
            "[keybase]\nbinary = {:?}\nhome = {:?}\n\n[matrix]\nlisten = \"{}\"\n\n\
             [matrix.users]\ncarol = {:?}\n",
            binary.display().to_string(),
            kb_home.display().to_string(),
            pushing.listen,
            human.user_id
        );
        for c in 0..channels {
            let _ = writeln!(
                toml,
                "[[link]]\nname = \"{}\"\nkeybase = \"{}\"\nmatrix = \"auto\"\nmode = \"relay\"\n",
                topic(c),
                chat(c)
            );
        }
        let config = dir.path().join("kbbridge.toml");
        fs::write(&config, toml).expect("the mapping file");
        Self {
            dir,
            kb_home,
            config,
            standin: standin.to_owned(),
            prefix,
            pushing,
            human,
            read: pushing.synapse.read_back(),
            channels,
            child: None,
        }
    }

    /// Where the tee writes its stamps.
    pub fn lines_path(&self) -> PathBuf {
        self.dir.path().join("api-listen.lines")
    }

    /// kbbridge's log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kbbridge.log")
    }

    /// Starts `kbbridge run`, logging at [`LOG_VAR`] to [`World::log_path`].
    pub fn start(&mut self) {
        let synapse = &self.pushing.synapse;
        let db = format!("sqlite://{}", self.dir.path().join("kbbridge.db").display());
        let log = fs::File::create(self.log_path()).expect("kbbridge's log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KBBRIDGE") {
                cmd.env_remove(key);
            }
        }
        let filter = std::env::var(LOG_VAR).unwrap_or_else(|_| "info".to_owned());
        cmd.arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("KBBRIDGE__DATABASE__URL", db)
            .env("KBBRIDGE__MATRIX__HOMESERVER", synapse.url.as_str())
            .env("KBBRIDGE__MATRIX__SERVER_NAME", &synapse.server_name)
            .env("KBBRIDGE__MATRIX__AS_TOKEN", &synapse.as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", &self.pushing.hs_token)
            .env("KBBRIDGE__MATRIX__GHOST_PREFIX", &self.prefix)
            .env("KBBRIDGE__MATRIX__BOT_LOCALPART", &synapse.bot_localpart)
            .env(STANDIN_VAR, &self.standin)
            .env(LINES_VAR, self.lines_path())
            .env("RUST_LOG", filter)
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start kbbridge run"));
    }

    /// kbbridge's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails with the log when kbbridge has exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("kbbridge exited ({status}):\n{}", self.log());
            }
        }
    }

    /// kbbridge's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until kbbridge says it relays (every room made, the Keybase feed started).
    pub async fn relaying(&mut self) {
        let started = Instant::now();
        while !self.log().contains("relaying; stop with") {
            self.assert_running();
            assert!(
                started.elapsed() < SET_UP,
                "kbbridge did not start relaying:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The room of each channel, in channel order; with `join`, the Matrix user joins each.
    pub async fn rooms(&mut self, join: bool) -> Vec<String> {
        let started = Instant::now();
        let mut rooms = Vec::new();
        for c in 0..self.channels {
            let info = chat_info::describe(&ChatId::new(chat(c)), None);
            let alias = format!(
                "#{}:{}",
                localpart::room_alias(&self.prefix, &info),
                self.pushing.synapse.server_name
            );
            let room = loop {
                self.assert_running();
                if let Ok(room) = self.read.alias(&alias).await {
                    break room;
                }
                assert!(
                    started.elapsed() < SET_UP,
                    "no room {alias}:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            // Invited as the room is made; the invite may trail the alias.
            if join {
                while let Err(e) = self.human.join(&room).await {
                    assert!(started.elapsed() < SET_UP, "cannot join {room}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            rooms.push(room);
        }
        rooms
    }

    /// A command appending a text message from `sender` to channel `c` (`admin post`).
    pub fn post_command(&self, c: usize, sender: &str, body: &str) -> Command {
        let json = serde_json::json!({"sender": sender, "type": "text", "body": body});
        let mut cmd = Command::new(&self.standin);
        cmd.arg("--home")
            .arg(&self.kb_home)
            .args(["admin", "post", &chat(c), &json.to_string()])
            .stdout(Stdio::null());
        cmd
    }

    /// Stops kbbridge with SIGTERM (SIGKILL after 30 s), then the api-listen stand-ins its
    /// tees left behind.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let pids = fs::read_to_string(pids_path(&self.lines_path())).unwrap_or_default();
        for pid in pids.lines() {
            // Still the stand-in the tee started (not a process that took its ID since).
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("api-listen") {
                let _ = Command::new("kill").args(["-TERM", pid]).status();
            }
        }
    }

    /// Keeps the folder (state, mapping file, logs) after the run; its path.
    pub fn keep(self) -> PathBuf {
        let mut this = self;
        this.stop();
        let dir = std::mem::replace(
            &mut this.dir,
            tempfile::tempdir().expect("a temporary directory"),
        );
        dir.keep()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The topic of channel `c`.
fn topic(c: usize) -> String {
    format!("c{c:02}")
}

/// The stand-in chat of channel `c`: `bench#c00`.
pub fn chat(c: usize) -> String {
    format!("bench#{}", topic(c))
}
