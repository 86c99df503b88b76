//! Test equipment (feature `testing`): a real Synapse on loopback, and reading it back.
//!
//! [`synapse`] runs the project's `tests/support/synapse ensure` once per process: it installs
//! Synapse into `target/synapse/venv` on first use, starts it if no test process has, and
//! records this process as a user, so the script's watchdog stops Synapse once every test
//! process is gone. Tests share the one homeserver and keep apart by giving each run its own
//! ghost prefix ([`unique_prefix`]): ghosts and room aliases are all under it.
//!
//! [`ReadBack`] reads the homeserver with plain HTTP (no kbbridge code), as the bot.
//!
//! [`pushing`]: a second homeserver whose registration has a `url`, so it pushes transactions
//! to a test's appservice listener, and [`pushing::Human`]: an ordinary user writing there.

pub mod pushing;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use bridge_core::Secret;
use serde_json::Value;
use url::Url;

use crate::config::MatrixConfig;

/// The project's Synapse script.
pub fn script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/support/synapse"
    ))
}

/// A running Synapse, as its script describes it.
#[derive(Clone, Debug)]
pub struct Synapse {
    /// The client API, `http://127.0.0.1:18448`.
    pub url: Url,
    /// Its server name.
    pub server_name: String,
    /// The appservice's `as_token`.
    pub as_token: String,
    /// The bot's localpart.
    pub bot_localpart: String,
    /// Its state directory (`homeserver.yaml`, `synapse.log`).
    pub dir: PathBuf,
    /// The venv it runs from.
    pub venv: PathBuf,
}

/// The test Synapse, started (and Synapse installed) on first call in this process.
///
/// # Panics
/// When it cannot be started: every Matrix test needs it, so this is the test's failure.
pub fn synapse() -> &'static Synapse {
    static SYNAPSE: OnceLock<Synapse> = OnceLock::new();
    SYNAPSE.get_or_init(|| match start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test Synapse: {e}"),
    })
}

fn start() -> Result<Synapse, String> {
    let out = Command::new("bash")
        .arg(script())
        .arg("ensure")
        .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} ensure failed: {log}", script().display()));
    }
    let dir = std::env::var_os("SYNAPSE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/synapse/test"
            ))
        });
    let env = std::fs::read_to_string(dir.join("env"))
        .map_err(|e| format!("cannot read {}: {e}", dir.join("env").display()))?;
    let vars: BTreeMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| {
        vars.get(k)
            .map(|v| v.to_string())
            .ok_or(format!("{k} missing from env"))
    };
    Ok(Synapse {
        url: Url::parse(&get("SYNAPSE_URL")?).map_err(|e| e.to_string())?,
        server_name: get("SYNAPSE_SERVER_NAME")?,
        as_token: get("SYNAPSE_AS_TOKEN")?,
        bot_localpart: get("SYNAPSE_SENDER_LOCALPART")?,
        dir,
        venv: PathBuf::from(get("SYNAPSE_VENV")?),
    })
}

/// Deletes the appservice's undelivered transactions from Synapse's database (SQLite or
/// PostgreSQL, as `homeserver.yaml` says); prints how many.
const DROP_QUEUED: &str = r#"
import sys, yaml
db = yaml.safe_load(open(sys.argv[1]))["database"]
if db["name"] == "sqlite3":
    import sqlite3
    conn, mark = sqlite3.connect(db["args"]["database"], timeout=30), "?"
else:
    import psycopg2
    args = {k: v for k, v in db["args"].items() if k not in ("cp_min", "cp_max")}
    conn, mark = psycopg2.connect(**args), "%s"
cur = conn.cursor()
cur.execute("DELETE FROM application_services_txns WHERE as_id = " + mark, (sys.argv[2],))
conn.commit()
print(cur.rowcount)
"#;

/// A ghost prefix no other test run uses: `kb_t<pid>x<n>_`.
pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 10_000)
        .unwrap_or(0);
    format!("kb_t{}x{n}y{nanos}_", std::process::id())
}

impl Synapse {
    /// A `[matrix]` section for this Synapse, with ghosts and aliases under `ghost_prefix`.
    pub fn config(&self, ghost_prefix: &str) -> MatrixConfig {
        MatrixConfig {
            homeserver: Some(self.url.clone()),
            server_name: Some(self.server_name.clone()),
            as_token: Secret::new(self.as_token.clone()),
            hs_token: Secret::new("ci_hs_token"),
            bot_localpart: self.bot_localpart.clone(),
            ghost_prefix: ghost_prefix.to_owned(),
            ..MatrixConfig::default()
        }
    }

    /// Throws away the transactions this Synapse holds for the appservice `as_id` and has
    /// not delivered, as its recovery race or a crash of its own can (`gaps.rs`); returns how
    /// many there were.
    ///
    /// # Errors
    /// When its database cannot be changed.
    pub fn drop_queued_transactions(&self, as_id: &str) -> Result<u64, String> {
        let config = self.dir.join("homeserver.yaml");
        let out = std::process::Command::new(self.venv.join("bin/python"))
            .arg("-c")
            .arg(DROP_QUEUED)
            .arg(&config)
            .arg(as_id)
            .output()
            .map_err(|e| format!("cannot run the venv's python: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .map_err(|e| format!("unexpected output {text:?}: {e}"))
    }

    /// A reader of this homeserver, as the bot.
    pub fn read_back(&self) -> ReadBack {
        ReadBack {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            base: self.url.as_str().trim_end_matches('/').to_owned(),
            token: self.as_token.clone(),
        }
    }
}

/// Reads a homeserver back over plain HTTP, with the appservice token (as the bot).
#[derive(Clone, Debug)]
pub struct ReadBack {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Percent-encodes one path segment (room IDs, event IDs, aliases).
pub fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ReadBack {
    /// `GET` a client-API path (`/_matrix/client/v3/…`) and its JSON answer.
    ///
    /// # Errors
    /// The status and body of any non-2xx answer.
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let bytes = self.get_bytes(path).await?;
        serde_json::from_slice(&bytes).map_err(|e| format!("GET {path}: {e}"))
    }

    /// `PUT` `body` to a client-API path as the appservice (add `?user_id=` to act as one of
    /// its users), as someone tampering with the room by hand would; the JSON answer.
    ///
    /// # Errors
    /// The status and body of any non-2xx answer.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, String> {
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("PUT {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("PUT {path}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("PUT {path}: {e}"))
    }

    /// `GET` a path and its raw body.
    ///
    /// # Errors
    /// The status and body of any non-2xx answer.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "GET {path}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body.to_vec())
    }

    /// Every timeline event of `room`, oldest first (`/messages`, forwards, all pages).
    ///
    /// # Errors
    /// As [`ReadBack::get`].
    pub async fn messages(&self, room: &str) -> Result<Vec<Value>, String> {
        let mut events = Vec::new();
        let mut from = String::new();
        loop {
            let path = format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=f&limit=500{from}",
                segment(room)
            );
            let page = self.get(&path).await?;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            let end = page["end"].as_str().map(str::to_owned);
            if chunk.is_empty() {
                return Ok(events);
            }
            events.extend(chunk);
            match end {
                Some(end) => from = format!("&from={}", segment(&end)),
                None => return Ok(events),
            }
        }
    }

    /// The current state events of `room`.
    ///
    /// # Errors
    /// As [`ReadBack::get`].
    pub async fn state(&self, room: &str) -> Result<Vec<Value>, String> {
        let state = self
            .get(&format!("/_matrix/client/v3/rooms/{}/state", segment(room)))
            .await?;
        Ok(state.as_array().cloned().unwrap_or_default())
    }

    /// `/hierarchy` of a space: its rooms, children first level and below.
    ///
    /// # Errors
    /// As [`ReadBack::get`].
    pub async fn hierarchy(&self, space: &str) -> Result<Vec<Value>, String> {
        let h = self
            .get(&format!(
                "/_matrix/client/v1/rooms/{}/hierarchy",
                segment(space)
            ))
            .await?;
        Ok(h["rooms"].as_array().cloned().unwrap_or_default())
    }

    /// The room an alias points to.
    ///
    /// # Errors
    /// As [`ReadBack::get`] (404 when no room has it).
    pub async fn alias(&self, alias: &str) -> Result<String, String> {
        let a = self
            .get(&format!(
                "/_matrix/client/v3/directory/room/{}",
                segment(alias)
            ))
            .await?;
        a["room_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{alias}: no room_id"))
    }

    /// The bytes of an `mxc://server/id` file (authenticated media).
    ///
    /// # Errors
    /// As [`ReadBack::get`].
    pub async fn download(&self, mxc: &str) -> Result<Vec<u8>, String> {
        let rest = mxc
            .strip_prefix("mxc://")
            .ok_or_else(|| format!("{mxc} is not mxc://"))?;
        let (server, id) = rest
            .split_once('/')
            .ok_or_else(|| format!("{mxc}: no media ID"))?;
        self.get_bytes(&format!(
            "/_matrix/client/v1/media/download/{}/{}",
            segment(server),
            segment(id)
        ))
        .await
    }
}
