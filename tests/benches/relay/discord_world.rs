//! One kbbridge installation relaying `channels` Keybase stand-in channels to as many channels
//! of the in-process Discord stand-in (mode `relay`, no Matrix), pointed at it as
//! tests/e2e/live/discord.rs points the live tests (`connect_to`, `ca_file`, token, guild), with
//! its admin listener on, whose /metrics tells how long its Discord sends took.
//!
//! Arrival on Discord is read from each message's snowflake: the stand-in makes the ID when it
//! accepts the message, as Discord does, with the wall-clock time in ms since Discord's epoch
//! in the top bits (`state.rs` `snowflake`), so each message carries its own arrival stamp, to
//! the millisecond, taken in the handler that accepts it. Polling `messages()` would add up to
//! its interval to every arrival, and a gateway client its own delivery and scheduling.

use std::{
    collections::HashMap,
    ffi::OsString,
    fmt::Write as _,
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
};

use discord_standin::{Limits, StandIn, StandInOptions, Stats, TEXT};
use tempfile::TempDir;

use super::{
    keybase_side::{KeybaseSide, chat, topic},
    relay_process::RelayProcess,
    stamp::tag_in,
};

/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// The admin listener's bearer token (loopback, this run only).
const ADMIN_TOKEN: &str = "bench-admin-token";

/// The Discord stand-in, its channels, and the `kbbridge run` relaying Keybase into them.
pub struct DiscordWorld {
    // Fields drop in order: kbbridge stops before the stand-in and its folder go.
    relay: RelayProcess,
    keybase: KeybaseSide,
    config: PathBuf,
    ca: PathBuf,
    admin: String,
    /// The stand-in, in this process.
    pub standin: StandIn,
    http: reqwest::Client,
    dir: TempDir,
}

impl DiscordWorld {
    /// A Discord stand-in with `limits` and `channels` text channels, the Keybase stand-in's
    /// `bench` team (`standin` its executable) and a mapping file relaying each channel to one
    /// of them; kbbridge's `[keybase] binary` is this benchmark's tee (`tee.rs`).
    pub async fn new(channels: usize, standin: &Path, limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let discord = StandIn::start(StandInOptions {
            limits,
            ..StandInOptions::default()
        })
        .await
        .expect("the Discord stand-in");
        let ca = dir.path().join("discord-ca.pem");
        fs::write(&ca, discord.ca_pem()).expect("the stand-in's certificate");
        // The channel each Keybase channel is relayed to, in channel order.
        let ids: Vec<u64> = (0..channels)
            .map(|c| discord.create_channel(&topic(c), TEXT, None))
            .collect();
        let keybase = KeybaseSide::new(dir.path(), channels, standin);
        // A free loopback port for the admin listener (free when kbbridge binds it, as long as
        // nothing else takes it meanwhile).
        let admin = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let mut toml = keybase.toml(true);
        let _ = writeln!(
            toml,
            "\n[discord]\nguild_id = \"{}\"\n\n[admin]\nlisten = \"{admin}\"\n",
            discord.guild_id()
        );
        for (c, id) in ids.iter().enumerate() {
            let _ = writeln!(
                toml,
                "[[link]]\nname = \"{}\"\nkeybase = \"{}\"\ndiscord = \"{id}\"\nmode = \"relay\"\n",
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
            ca,
            admin,
            standin: discord,
            http: reqwest::Client::new(),
        }
    }

    /// The Keybase side, to post on.
    pub fn keybase(&self) -> &KeybaseSide {
        &self.keybase
    }

    /// The relay's process.
    pub fn relay(&mut self) -> &mut RelayProcess {
        &mut self.relay
    }

    /// The stand-in's test certificate (for the benchmark's own HTTPS client).
    pub fn ca_pem(&self) -> String {
        fs::read_to_string(&self.ca).unwrap_or_default()
    }

    /// Starts `kbbridge run` pointed at the stand-in, and waits until it relays.
    pub async fn start(&mut self) {
        let env: [(&str, OsString); 4] = [
            (
                "KBBRIDGE__DISCORD__CONNECT_TO",
                self.standin.tls_addr().to_string().into(),
            ),
            ("KBBRIDGE__DISCORD__CA_FILE", self.ca.clone().into()),
            ("KBBRIDGE__DISCORD__TOKEN", self.standin.token().into()),
            ("KBBRIDGE__ADMIN__TOKEN", ADMIN_TOKEN.into()),
        ];
        self.relay.start(&self.config, self.keybase.standin(), &env);
        self.relay.relaying().await;
    }

    /// The first arrival on Discord of each tagged message (Unix µs, the middle of the
    /// snowflake's millisecond).
    pub fn arrivals(&self) -> HashMap<String, u64> {
        let mut seen = HashMap::new();
        for m in self.standin.all_messages() {
            if let Some(tag) = tag_in(&m.content) {
                seen.entry(tag.to_owned())
                    .or_insert_with(|| created_us(m.id));
            }
        }
        seen
    }

    /// What the stand-in counted so far.
    pub fn stats(&self) -> Stats {
        self.standin.stats()
    }

    /// kbbridge's Discord sends so far, from its /metrics.
    pub async fn sends(&self) -> Sends {
        let text = match self
            .http
            .get(format!("http://{}/metrics", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => {
                eprintln!("relay bench: cannot read kbbridge's /metrics: {e}");
                String::new()
            }
        };
        Sends::parse(&text)
    }

    /// Stops kbbridge.
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

/// When the stand-in made snowflake `id` (Unix µs; the middle of its millisecond).
pub fn created_us(id: u64) -> u64 {
    ((id >> 22) + DISCORD_EPOCH_MS) * 1000 + 500
}

/// kbbridge's Discord sends as its /metrics count them (cumulative).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sends {
    /// Parts sent (`kbbridge_parts_sent_total`, live).
    pub count: f64,
    /// Time inside those sends, its rate limiter's waits and retries included (s;
    /// `kbbridge_send_seconds_sum`).
    pub seconds: f64,
    /// 429s kbbridge retried after (`kbbridge_rate_limited_total`).
    pub rate_limited: f64,
}

impl Sends {
    /// Reads the `to="discord"` series of a Prometheus text.
    fn parse(text: &str) -> Self {
        let value = |name: &str| {
            text.lines()
                .filter(|l| l.starts_with(name) && l.contains("to=\"discord\""))
                .filter(|l| l[name.len()..].starts_with('{'))
                .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
                .sum()
        };
        Self {
            count: value("kbbridge_send_seconds_count"),
            seconds: value("kbbridge_send_seconds_sum"),
            rate_limited: value("kbbridge_rate_limited_total"),
        }
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Self) -> Self {
        Self {
            count: self.count - before.count,
            seconds: self.seconds - before.seconds,
            rate_limited: self.rate_limited - before.rate_limited,
        }
    }
}
