//! The `kbbridge` binary against a real Synapse (`tests/support/synapse`), checked by reading
//! Synapse back over plain HTTP: `/messages`, `/state`, `/hierarchy`, media downloads.
//!
//! The expected messages come from the Keybase export reader (itself checked message by
//! message against the sample in adapter-keybase's tests). Each test uses its own ghost prefix,
//! so its ghosts and room aliases are its own on the shared homeserver.
//!
//! Here: one kbbridge installation on the shared Synapse ([`Bridge`]). The tests, by concept:
//! [`replay`] (the sample copied once, with its shape; re-runs send nothing), [`crash`]
//! (SIGKILL at random points), [`demo`] (the appservice registration and the README's demo);
//! [`verify`] checks a room against what the export holds.

mod crash;
mod demo;
mod registration;
mod replay;
mod secrets;
mod team;
mod verify;

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use adapter_matrix::{
    localpart,
    testing::{Synapse, synapse, unique_prefix},
};
use tempfile::TempDir;

use crate::support::root;

/// One kbbridge installation: a mapping file, a database and a ghost prefix of its own.
struct Bridge {
    dir: TempDir,
    config: PathBuf,
    prefix: String,
    synapse: &'static Synapse,
}

impl Bridge {
    /// The bundled sample's mapping file, pointed at the test Synapse through the environment.
    fn sample() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Bridge {
            config: root().join("config/examples/sample.toml"),
            dir,
            prefix: unique_prefix(),
            synapse: synapse(),
        }
    }

    /// A mapping file of its own for `export`, one "auto" link per chat, paced at `rate`/s.
    fn with_export(export: &Path, chats: &[&str], rate: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = format!(
            "[keybase]\nexport = {:?}\n\n[matrix]\nserver_name = \"localhost\"\n\n\
             [backfill]\nparallel_links = 4\npage_size = 20\n\n\
             [backfill.rate.matrix]\nmessages_per_second = {rate}\nburst = 5\n",
            export.display().to_string()
        );
        for (i, chat) in chats.iter().enumerate() {
            write!(
                toml,
                "\n[[link]]\nname = \"l{i}\"\nkeybase = {chat:?}\nmatrix = \"auto\"\n"
            )
            .unwrap();
        }
        let config = dir.path().join("kbbridge.toml");
        fs::write(&config, toml).unwrap();
        Bridge {
            config,
            dir,
            prefix: unique_prefix(),
            synapse: synapse(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
        let db = format!("sqlite://{}", self.dir.path().join("kbbridge.db").display());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("KBBRIDGE__DATABASE__URL", db)
            .env("KBBRIDGE__MATRIX__HOMESERVER", self.synapse.url.as_str())
            .env("KBBRIDGE__MATRIX__SERVER_NAME", &self.synapse.server_name)
            .env("KBBRIDGE__MATRIX__AS_TOKEN", &self.synapse.as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", "ci_hs_token")
            .env("KBBRIDGE__MATRIX__GHOST_PREFIX", &self.prefix)
            .env(
                "KBBRIDGE__MATRIX__BOT_LOCALPART",
                &self.synapse.bot_localpart,
            )
            .env("RUST_LOG", "info")
            .env_remove("KBBRIDGE_CONFIG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kbbridge")
    }

    fn alias(&self, local: &str) -> String {
        format!("#{}{local}:{}", self.prefix, self.synapse.server_name)
    }

    fn ghost(&self, name: &str) -> String {
        format!(
            "@{}:{}",
            localpart::ghost(&self.prefix, name),
            self.synapse.server_name
        )
    }

    fn bot(&self) -> String {
        format!(
            "@{}:{}",
            self.synapse.bot_localpart, self.synapse.server_name
        )
    }
}

/// The bundled sample export.
fn sample_export() -> PathBuf {
    root().join("tests/fixtures/sample-export/export.jsonl")
}
