//! The Matrix side: (a) the `kbbridge backfill` binary from process start to exit, and (b) a
//! minimal client making the same requests with the same concurrency, into the same Synapse.

use std::{
    collections::HashMap,
    fmt::Write as _,
    fs,
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use adapter_matrix::{
    localpart,
    testing::{Synapse, segment, unique_prefix},
};
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};

use crate::export::{CHANNELS, Channel};

/// Runs `kbbridge backfill` over `export` (8 "auto" links, 8 at once, unpaced); returns the
/// time from spawn to exit. Each `round` has its own database and ghost prefix; the log goes
/// to `log` (level `log_level`).
pub fn kbbridge(
    s: &Synapse,
    dir: &Path,
    round: usize,
    export: &Path,
    log: &Path,
    log_level: &str,
) -> Result<Duration, String> {
    let mut toml = format!(
        "[keybase]\nexport = {:?}\n\n[matrix]\nserver_name = \"localhost\"\n\n\
         [backfill]\nparallel_links = {}\n",
        export.display().to_string(),
        CHANNELS.len()
    );
    for (i, chat) in CHANNELS.iter().enumerate() {
        write!(
            toml,
            "\n[[link]]\nname = \"l{i}\"\nkeybase = {chat:?}\nmatrix = \"auto\"\nmode = \"backfill\"\n"
        )
        .map_err(|e| e.to_string())?;
    }
    let config = dir.join(format!("kbbridge-{round}.toml"));
    fs::write(&config, toml).map_err(|e| e.to_string())?;
    let db = format!(
        "sqlite://{}",
        dir.join(format!("kbbridge-{round}.db")).display()
    );
    let stderr = fs::File::create(log).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_kbbridge"))
        .arg("--config")
        .arg(&config)
        .arg("backfill")
        .env("KBBRIDGE__DATABASE__URL", db)
        .env("KBBRIDGE__MATRIX__HOMESERVER", s.url.as_str())
        .env("KBBRIDGE__MATRIX__SERVER_NAME", &s.server_name)
        .env("KBBRIDGE__MATRIX__AS_TOKEN", &s.as_token)
        .env("KBBRIDGE__MATRIX__HS_TOKEN", "ci_hs_token")
        .env("KBBRIDGE__MATRIX__GHOST_PREFIX", unique_prefix())
        .env("KBBRIDGE__MATRIX__BOT_LOCALPART", &s.bot_localpart)
        .env("RUST_LOG", log_level)
        .env_remove("KBBRIDGE_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .status()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !status.success() {
        return Err(format!(
            "kbbridge backfill: {status}, see {}",
            log.display()
        ));
    }
    Ok(took)
}

/// The minimal client: plain reqwest with the appservice token.
struct Bare {
    http: reqwest::Client,
    base: String,
    token: String,
    server: String,
    prefix: String,
    /// Ghosts registered (and named) once, whichever room needs them first.
    ghosts: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// Requests made, for the report.
    requests: std::sync::atomic::AtomicUsize,
}

impl Bare {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: reqwest::Body,
        content_type: &str,
    ) -> Result<Value, String> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() && !text.contains("M_USER_IN_USE") && !text.contains("M_NOT_FOUND")
        {
            return Err(format!("{path}: {status} {text}"));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, String> {
        self.call(method, path, body.to_string().into(), "application/json")
            .await
    }

    /// Like kbbridge's ghosts: register once, set the display name once.
    async fn ghost(&self, name: &str) -> Result<String, String> {
        let cell = self
            .ghosts
            .lock()
            .await
            .entry(name.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let local = localpart::ghost(&self.prefix, name);
            let id = format!("@{local}:{}", self.server);
            let register = json!({"type": "m.login.application_service", "username": local,
                                  "inhibit_login": true});
            self.json(
                reqwest::Method::POST,
                "/_matrix/client/v3/register",
                &register,
            )
            .await?;
            let path = format!(
                "/_matrix/client/v3/profile/{}/displayname?user_id={}",
                segment(&id),
                segment(&id)
            );
            self.json(reqwest::Method::PUT, &path, &json!({"displayname": name}))
                .await?;
            Ok::<_, String>(id)
        })
        .await
        .cloned()
    }

    /// `createRoom` after the alias lookup kbbridge makes, then the parent's `m.space.child`.
    async fn room(
        &self,
        alias: &str,
        name: &str,
        parent: Option<&str>,
        space: bool,
    ) -> Result<String, String> {
        let full = format!("#{alias}:{}", self.server);
        let lookup = format!("/_matrix/client/v3/directory/room/{}", segment(&full));
        self.json(reqwest::Method::GET, &lookup, &Value::Null)
            .await
            .ok();
        let mut initial = vec![json!({"type": "m.room.history_visibility", "state_key": "",
                                      "content": {"history_visibility": "shared"}})];
        if let Some(p) = parent {
            initial.push(json!({"type": "m.space.parent", "state_key": p,
                                "content": {"via": [self.server], "canonical": true}}));
            initial.push(json!({"type": "m.room.join_rules", "state_key": "",
                                "content": {"join_rule": "restricted",
                                            "allow": [{"type": "m.room_membership", "room_id": p}]}}));
        }
        let mut create = json!({"name": name, "room_alias_name": alias, "preset": "private_chat",
                                "initial_state": initial});
        if space {
            create["creation_content"] = json!({"type": "m.space"});
        }
        let made = self
            .json(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                &create,
            )
            .await?;
        let room = made["room_id"].as_str().ok_or("no room_id")?.to_owned();
        if let Some(p) = parent {
            let path = format!(
                "/_matrix/client/v3/rooms/{}/state/m.space.child/{}",
                segment(p),
                segment(&room)
            );
            self.json(reqwest::Method::PUT, &path, &json!({"via": [self.server]}))
                .await?;
        }
        Ok(room)
    }

    async fn put_event(
        &self,
        room: &str,
        kind: &str,
        txn: &str,
        user: &str,
        ts: i64,
        content: &Value,
    ) -> Result<String, String> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{kind}/{}?user_id={}&ts={ts}",
            segment(room),
            segment(txn),
            segment(user)
        );
        let answer = self.json(reqwest::Method::PUT, &path, content).await?;
        Ok(answer["event_id"].as_str().ok_or("no event_id")?.to_owned())
    }

    /// One room's copy, in order: joins on first use, uploads, messages, reactions.
    async fn copy(&self, room: &str, channel: &Channel) -> Result<(), String> {
        let mut joined = std::collections::HashSet::new();
        let mut events: HashMap<u64, String> = HashMap::new();
        for m in &channel.messages {
            let source = |part: usize| {
                json!({"platform": "keybase", "chat": channel.name, "msg": m.id.to_string(),
                       "part": part})
            };
            let txn = |part: usize| format!("bare.{}.{}.{part}", channel.name, m.id);
            let ghost = self.ghost(&m.sender).await?;
            self.join(room, &ghost, &mut joined).await?;
            let mut content = json!({"msgtype": "m.text", "body": m.text, "m.mentions": {},
                                     "org.kbbridge.source": source(0)});
            if let Some(html) = &m.html {
                content["format"] = json!("org.matrix.custom.html");
                content["formatted_body"] = json!(html);
            }
            if let Some((file, bytes, mime)) = &m.file {
                let path = format!(
                    "/_matrix/media/v3/upload?filename={}&user_id={}",
                    segment(file),
                    segment(&ghost)
                );
                let up = self
                    .call(reqwest::Method::POST, &path, bytes.to_vec().into(), mime)
                    .await?;
                let url = up["content_uri"].as_str().ok_or("no content_uri")?;
                let image = mime.starts_with("image/");
                content["msgtype"] = json!(if image { "m.image" } else { "m.file" });
                content["body"] = json!(file);
                content["filename"] = json!(file);
                content["url"] = json!(url);
                content["info"] = json!({"mimetype": mime, "size": bytes.len()});
                if !m.text.is_empty() {
                    content["body"] = json!(m.text);
                }
            }
            if let Some(parent) = m.reply_to.and_then(|r| events.get(&r)) {
                content["m.relates_to"] = json!({"m.in_reply_to": {"event_id": parent}});
            }
            let event = self
                .put_event(room, "m.room.message", &txn(0), &ghost, m.at_ms, &content)
                .await?;
            for (n, (who, emoji, at)) in m.reactions.iter().enumerate() {
                let reactor = self.ghost(who).await?;
                self.join(room, &reactor, &mut joined).await?;
                let content = json!({"m.relates_to": {"rel_type": "m.annotation",
                                     "event_id": event, "key": emoji},
                                     "org.kbbridge.source": source(n + 1)});
                self.put_event(room, "m.reaction", &txn(n + 1), &reactor, *at, &content)
                    .await?;
            }
            events.insert(m.id, event);
        }
        Ok(())
    }

    /// As kbbridge: join; when the room refuses (restricted to its space's members), the bot
    /// invites the ghost and it joins again.
    async fn join(
        &self,
        room: &str,
        ghost: &str,
        joined: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        if joined.insert(ghost.to_owned()) {
            let path = format!(
                "/_matrix/client/v3/rooms/{}/join?user_id={}",
                segment(room),
                segment(ghost)
            );
            if let Err(e) = self.json(reqwest::Method::POST, &path, &json!({})).await {
                if !e.contains("M_FORBIDDEN") {
                    return Err(e);
                }
                let invite = format!("/_matrix/client/v3/rooms/{}/invite", segment(room));
                self.json(reqwest::Method::POST, &invite, &json!({"user_id": ghost}))
                    .await?;
                self.json(reqwest::Method::POST, &path, &json!({})).await?;
            }
        }
        Ok(())
    }
}

/// The minimal client's whole run, timed from its start (client, spaces, rooms) to the last
/// event; returns the time and the number of requests it made.
pub async fn bare(s: &Synapse, channels: &[Channel]) -> Result<(Duration, usize), String> {
    let start = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let prefix = unique_prefix();
    let client = Arc::new(Bare {
        http,
        base: s.url.as_str().trim_end_matches('/').to_owned(),
        token: s.as_token.clone(),
        server: s.server_name.clone(),
        prefix: prefix.clone(),
        ghosts: Mutex::new(HashMap::new()),
        requests: 0.into(),
    });
    // kbbridge's preflight learns the upload limit once.
    client
        .json(
            reqwest::Method::GET,
            "/_matrix/client/v1/media/config",
            &Value::Null,
        )
        .await?;
    let mut spaces: HashMap<&str, String> = HashMap::new();
    let team = client
        .room(&format!("{prefix}bench"), "bench", None, true)
        .await?;
    let ops = client
        .room(
            &format!("{prefix}bench.ops"),
            "bench.ops",
            Some(&team),
            true,
        )
        .await?;
    spaces.insert("bench", team);
    spaces.insert("bench.ops", ops);
    let mut rooms = Vec::new();
    for c in channels {
        let (team, name) = c.name.split_once('#').ok_or("no team")?;
        let alias = format!("{prefix}{}", c.name.replace('#', "-"));
        let room = client
            .room(&alias, name, spaces.get(team).map(String::as_str), false)
            .await?;
        rooms.push(room);
    }
    let tasks: Vec<_> = rooms
        .into_iter()
        .zip(channels.iter().cloned())
        .map(|(room, channel)| {
            let client = client.clone();
            tokio::spawn(async move { client.copy(&room, &channel).await })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let took = start.elapsed();
    Ok((
        took,
        client.requests.load(std::sync::atomic::Ordering::Relaxed),
    ))
}
