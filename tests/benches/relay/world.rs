//! One kbbridge installation relaying `channels` stand-in channels (`bench#c00`, …) with as many
//! Matrix rooms it makes itself (`matrix = "auto"`), on the pushing Synapse, as
//! tests/e2e/live/ sets one up; and the benchmark's Matrix user, invited to those rooms.

use std::{
    ffi::OsString,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
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

use super::{
    keybase_side::{KeybaseSide, chat, topic},
    relay_process::RelayProcess,
};

/// How long kbbridge may take to make its rooms.
const SET_UP: Duration = Duration::from_secs(600);

/// A stand-in world, its mapping file and the `kbbridge run` serving it.
pub struct World {
    // Fields drop in order: kbbridge stops before its folder goes.
    relay: RelayProcess,
    keybase: KeybaseSide,
    dir: TempDir,
    config: PathBuf,
    prefix: String,
    pushing: &'static Pushing,
    /// The benchmark's Matrix user, mapped to the Keybase user carol (so invited).
    pub human: Human,
    /// Reads Synapse as the bridge bot.
    pub read: ReadBack,
    channels: usize,
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
        let keybase = KeybaseSide::new(dir.path(), channels, standin);
        let mut toml = keybase.toml(through_tee);
        let _ = writeln!(
            toml,
            "\n[matrix]\nlisten = \"{}\"\n\n[matrix.users]\ncarol = {:?}\n",
            pushing.listen, human.user_id
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
            relay: RelayProcess::new(dir.path()),
            dir,
            keybase,
            config,
            prefix,
            pushing,
            human,
            read: pushing.synapse.read_back(),
            channels,
        }
    }

    /// Where the tee writes its stamps.
    pub fn lines_path(&self) -> PathBuf {
        self.relay.lines_path()
    }

    /// The Keybase side, to post on.
    pub fn keybase(&self) -> &KeybaseSide {
        &self.keybase
    }

    /// Starts `kbbridge run` on the pushing Synapse (`relay_process.rs`).
    pub fn start(&mut self) {
        let synapse = &self.pushing.synapse;
        let env: [(&str, OsString); 6] = [
            ("KBBRIDGE__MATRIX__HOMESERVER", synapse.url.as_str().into()),
            (
                "KBBRIDGE__MATRIX__SERVER_NAME",
                synapse.server_name.clone().into(),
            ),
            (
                "KBBRIDGE__MATRIX__AS_TOKEN",
                synapse.as_token.clone().into(),
            ),
            (
                "KBBRIDGE__MATRIX__HS_TOKEN",
                self.pushing.hs_token.clone().into(),
            ),
            ("KBBRIDGE__MATRIX__GHOST_PREFIX", self.prefix.clone().into()),
            (
                "KBBRIDGE__MATRIX__BOT_LOCALPART",
                synapse.bot_localpart.clone().into(),
            ),
        ];
        self.relay.start(&self.config, self.keybase.standin(), &env);
    }

    /// kbbridge's process ID.
    pub fn pid(&self) -> u32 {
        self.relay.pid()
    }

    /// Fails with the log when kbbridge has exited.
    pub fn assert_running(&mut self) {
        self.relay.assert_running();
    }

    /// kbbridge's log so far.
    pub fn log(&self) -> String {
        self.relay.log()
    }

    /// Waits until kbbridge says it relays (every room made, the Keybase feed started).
    pub async fn relaying(&mut self) {
        self.relay.relaying().await;
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

    /// The ghost of the Keybase user `name`, as the appservice writes as it (it must have been
    /// relayed once, so that kbbridge registered it and it joined its rooms).
    pub fn appservice_user(&self, name: &str) -> Human {
        let id = format!(
            "@{}:{}",
            localpart::ghost(&self.prefix, name),
            self.pushing.synapse.server_name
        );
        self.pushing.synapse.appservice_user(&id)
    }

    /// A command appending a text message from `sender` to channel `c` (`admin post`).
    pub fn post_command(&self, c: usize, sender: &str, body: &str) -> std::process::Command {
        self.keybase.post_command(c, sender, body)
    }

    /// Stops kbbridge (`RelayProcess::stop`).
    pub fn stop(&mut self) {
        self.relay.stop();
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
