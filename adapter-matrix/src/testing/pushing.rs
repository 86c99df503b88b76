//! A test Synapse that pushes transactions to the appservice, and a human user on it.
//!
//! [`pushing`] starts (once per process) a Synapse of its own state directory,
//! `target/synapse/push`, whose registration's `url` is a loopback port fixed for this checkout
//! ([`Pushing::listen`]): tests listen there, one at a time, since the homeserver has one
//! queue for the appservice. [`Human`] is an ordinary account (registered with the shared
//! secret by the script's `user` command, then logged in with its password).

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use serde_json::{Value, json};

use super::{Synapse, script, segment};

/// The pushing Synapse and where it pushes.
#[derive(Clone, Debug)]
pub struct Pushing {
    /// The homeserver.
    pub synapse: Synapse,
    /// Where the registration's `url` points: the appservice listener's address.
    pub listen: SocketAddr,
    /// The `hs_token` it sends.
    pub hs_token: String,
}

/// The pushing Synapse, started on first call in this process.
///
/// # Panics
/// When it cannot be started: the tests that call this need it.
pub fn pushing() -> &'static Pushing {
    static PUSHING: OnceLock<Pushing> = OnceLock::new();
    PUSHING.get_or_init(|| match start() {
        Ok(p) => p,
        Err(e) => panic!("cannot start the pushing Synapse: {e}"),
    })
}

fn start() -> Result<Pushing, String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Apart from the ping test's port range (29400..29900), and different per checkout.
    let sum: u32 = root.bytes().map(u32::from).sum();
    let port = 30_000 + u16::try_from(sum % 500).unwrap_or(0);
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let dir = PathBuf::from(root).join("target/synapse/push");
    let out = Command::new("bash")
        .arg(script())
        .arg("ensure")
        .env("SYNAPSE_DIR", &dir)
        .env("SYNAPSE_AS_URL", format!("http://{listen}"))
        .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if !out.status.success() {
        return Err(format!(
            "ensure failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let env = std::fs::read_to_string(dir.join("env"))
        .map_err(|e| format!("cannot read {}: {e}", dir.join("env").display()))?;
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_owned)
            .ok_or(format!("{k} missing from {}", dir.join("env").display()))
    };
    let synapse = Synapse {
        url: get("SYNAPSE_URL")?.parse().map_err(|e| format!("{e}"))?,
        server_name: get("SYNAPSE_SERVER_NAME")?,
        as_token: get("SYNAPSE_AS_TOKEN")?,
        bot_localpart: get("SYNAPSE_SENDER_LOCALPART")?,
        venv: PathBuf::from(get("SYNAPSE_VENV")?),
        dir: dir.clone(),
    };
    Ok(Pushing {
        synapse,
        listen,
        hs_token: get("SYNAPSE_HS_TOKEN")?,
    })
}

/// An ordinary Matrix user, writing with its own access token; or one of the appservice's
/// users, written as with the `as_token` ([`Synapse::appservice_user`]).
#[derive(Clone, Debug)]
pub struct Human {
    /// `@name:server`.
    pub user_id: String,
    token: String,
    base: String,
    http: reqwest::Client,
    /// Whether requests name the user (`?user_id=`, the appservice's way).
    masquerade: bool,
}

impl Synapse {
    /// Registers `name` (shared-secret admin API, through the script) and logs it in.
    ///
    /// # Errors
    /// What failed, with the homeserver's answer.
    pub async fn human(&self, name: &str) -> Result<Human, String> {
        let password = format!("pw-{name}");
        let out = Command::new("bash")
            .arg(script())
            .args(["user", name, &password])
            .env("SYNAPSE_DIR", &self.dir)
            .output()
            .map_err(|e| format!("cannot run the script: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot register {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let base = self.url.as_str().trim_end_matches('/').to_owned();
        let body = json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": name },
            "password": password,
        });
        let resp = http
            .post(format!("{base}/_matrix/client/v3/login"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let answer = json_of(resp).await;
        let token = answer["access_token"]
            .as_str()
            .ok_or(format!("login of {name}: {answer}"))?
            .to_owned();
        Ok(Human {
            user_id: answer["user_id"].as_str().unwrap_or_default().to_owned(),
            token,
            base,
            http,
            masquerade: false,
        })
    }

    /// The appservice's user `user_id` (it must exist: a ghost kbbridge registered), sending
    /// with the `as_token` as the bridge itself does.
    pub fn appservice_user(&self, user_id: &str) -> Human {
        Human {
            user_id: user_id.to_owned(),
            token: self.as_token.clone(),
            base: self.url.as_str().trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            masquerade: true,
        }
    }
}

impl Human {
    /// A reader of the homeserver as this user (the rooms it is in).
    pub fn read_back(&self) -> super::ReadBack {
        super::ReadBack {
            http: self.http.clone(),
            base: self.base.clone(),
            token: self.token.clone(),
        }
    }

    /// One request; `body` `null` sends none (a `GET`).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let mut url = format!("{}{path}", self.base);
        if self.masquerade {
            let join = if path.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{join}user_id={}", segment(&self.user_id)));
        }
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(&self.token);
        if !body.is_null() {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let value = json_of(resp).await;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {value}"));
        }
        Ok(value)
    }

    /// Joins `room` (it must be invited, or the room public).
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn join(&self, room: &str) -> Result<(), String> {
        let path = format!("/_matrix/client/v3/join/{}", segment(room));
        self.call(reqwest::Method::POST, &path, json!({})).await?;
        Ok(())
    }

    /// Sends an event of `kind` with `content` into `room`; returns its event ID.
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn send(&self, room: &str, kind: &str, content: Value) -> Result<String, String> {
        let txn = format!("h{}", rand::random::<u64>());
        self.send_with_txn(room, kind, &txn, content).await
    }

    /// [`Human::send`] with the transaction ID `txn` (unique per user: a repeat is answered
    /// with the first event).
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn send_with_txn(
        &self,
        room: &str,
        kind: &str,
        txn: &str,
        content: Value,
    ) -> Result<String, String> {
        let txn = segment(txn);
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{kind}/{txn}",
            segment(room)
        );
        let answer = self.call(reqwest::Method::PUT, &path, content).await?;
        answer["event_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("no event_id: {answer}"))
    }

    /// Redacts `event` in `room`; returns the redaction's event ID.
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn redact(&self, room: &str, event: &str) -> Result<String, String> {
        let txn = format!("h{}", rand::random::<u64>());
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{txn}",
            segment(room),
            segment(event)
        );
        let answer = self.call(reqwest::Method::PUT, &path, json!({})).await?;
        answer["event_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("no event_id: {answer}"))
    }

    /// Creates a private room of its own (no alias, nobody else invited); returns its ID.
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn create_room(&self) -> Result<String, String> {
        let body = json!({"preset": "private_chat"});
        let answer = self
            .call(reqwest::Method::POST, "/_matrix/client/v3/createRoom", body)
            .await?;
        answer["room_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("no room_id: {answer}"))
    }

    /// One `/sync` with `filter` (JSON, sent inline), after `since` when given, waiting up to
    /// `timeout_ms` for something new; the whole answer (`next_batch`, `rooms`…).
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn sync(
        &self,
        filter: &Value,
        since: Option<&str>,
        timeout_ms: u64,
    ) -> Result<Value, String> {
        let mut path = format!(
            "/_matrix/client/v3/sync?timeout={timeout_ms}&filter={}",
            segment(&filter.to_string())
        );
        if let Some(since) = since {
            path.push_str(&format!("&since={}", segment(since)));
        }
        self.call(reqwest::Method::GET, &path, Value::Null).await
    }

    /// Uploads `bytes` as `name`; returns the `mxc://` URI.
    ///
    /// # Errors
    /// The homeserver's answer.
    pub async fn upload(&self, name: &str, mime: &str, bytes: Vec<u8>) -> Result<String, String> {
        let resp = self
            .http
            .post(format!(
                "{}/_matrix/media/v3/upload?filename={}",
                self.base,
                segment(name)
            ))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes)
            .send()
            .await
            .map_err(|e| format!("upload: {e}"))?;
        let value = json_of(resp).await;
        value["content_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("upload: {value}"))
    }
}

/// A response's JSON body (`null` when it has none).
async fn json_of(resp: reqwest::Response) -> Value {
    let bytes = resp.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
