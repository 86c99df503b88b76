//! The Discord side of the live tests: the Discord stand-in (REST over TLS as `discord.com`, and
//! its gateway, which serenity dials unchanged), a text channel the links name, and a person
//! (`dana`) who posts, edits, reacts and deletes there.

use std::{
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use discord_standin::{Human, Limits, RecordedMessage, StandIn, StandInOptions, TEXT};

use super::{ARRIVAL, Live};

/// The stand-in a live test relays with.
pub struct DiscordSide {
    /// The stand-in, in this test process: it outlives kbbridge's restarts. Shared with the
    /// threads that act on it.
    pub standin: Arc<StandIn>,
    /// The channel the link names.
    pub channel: u64,
    /// Its test certificate, for `[discord] ca_file`.
    ca: PathBuf,
    /// Where the certificate is.
    _dir: tempfile::TempDir,
    /// A person in the guild.
    pub dana: Human,
}

impl DiscordSide {
    /// A stand-in with a short heartbeat (so a reconnect is seen quickly), Discord's rate
    /// limits five times faster (so a storm takes seconds, not minutes) and one channel.
    pub async fn start() -> Self {
        Self::with_intents(StandInOptions::default().privileged_intents).await
    }

    /// [`DiscordSide::start`] for an application granted only the privileged intents
    /// `privileged` in the developer portal.
    pub async fn with_intents(privileged: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let standin = StandIn::start(StandInOptions {
            heartbeat_interval: Duration::from_millis(1000),
            limits: Limits::discord().scaled(0.2),
            privileged_intents: privileged,
            ..StandInOptions::default()
        })
        .await
        .unwrap();
        let ca = dir.path().join("discord-ca.pem");
        std::fs::write(&ca, standin.ca_pem()).unwrap();
        let channel = standin.create_channel("general", TEXT, None);
        let dana = standin.add_human("dana");
        Self {
            standin: Arc::new(standin),
            channel,
            ca,
            _dir: dir,
            dana,
        }
    }

    /// Points a kbbridge command at the stand-in: address, certificate, token and guild.
    pub fn point(&self, cmd: &mut Command) {
        cmd.env(
            "KBBRIDGE__DISCORD__CONNECT_TO",
            self.standin.tls_addr().to_string(),
        )
        .env("KBBRIDGE__DISCORD__CA_FILE", &self.ca)
        .env("KBBRIDGE__DISCORD__TOKEN", self.standin.token())
        .env(
            "KBBRIDGE__DISCORD__GUILD_ID",
            self.standin.guild_id().to_string(),
        );
    }

    /// The channel's messages now, deleted ones left out, oldest first.
    pub fn messages(&self) -> Vec<RecordedMessage> {
        let mut messages: Vec<RecordedMessage> = self
            .standin
            .messages(self.channel)
            .into_iter()
            .filter(|m| !m.deleted)
            .collect();
        messages.sort_by_key(|m| m.id);
        messages
    }

    /// `dana` says `content` in the channel; the message's ID.
    pub fn say(&self, content: &str) -> u64 {
        self.standin
            .post_as(&self.dana, self.channel, content)
            .expect("dana's message is accepted")
    }
}

impl Live {
    /// A live installation whose one link `general` has `acme#general`, the stand-in's channel
    /// and, with `matrix`, a Matrix room; `mode` and more `[discord]` settings (`discord` TOML
    /// lines) as given.
    pub async fn with_discord(mode: &str, matrix: bool, discord: &str) -> Self {
        Self::with_side(DiscordSide::start().await, mode, matrix, discord).await
    }

    /// [`Live::with_discord`] on the stand-in `side`.
    pub async fn with_side(side: DiscordSide, mode: &str, matrix: bool, discord: &str) -> Self {
        let matrix_line = if matrix { "matrix = \"auto\"\n" } else { "" };
        let link = format!(
            "[[link]]\nname = \"general\"\nkeybase = \"acme#general\"\ndiscord = \"{}\"\n\
             {matrix_line}mode = {mode:?}",
            side.channel
        );
        let extra = format!("[discord]\n{discord}\n");
        let mut live = Self::with_links(&link, &[], &extra).await;
        live.discord = Some(side);
        live
    }

    /// The Discord side.
    pub fn discord(&self) -> &DiscordSide {
        self.discord.as_ref().expect("this test has a Discord side")
    }

    /// Waits until `check` finds what it looks for in the Discord channel.
    pub async fn on_discord<T>(
        &mut self,
        what: &str,
        check: impl Fn(&[RecordedMessage]) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            self.assert_running();
            let messages = self.discord().messages();
            if let Some(found) = check(&messages) {
                return found;
            }
            assert!(
                started.elapsed() < ARRIVAL,
                "not on Discord within {ARRIVAL:?}: {what}\nmessages: {messages:#?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
