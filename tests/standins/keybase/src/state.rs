//! The stand-in's state: a folder of JSON files a test prepares (format in `STANDIN.md`).
//! Everything is read fresh for each request, so files edited between requests are seen.

use std::{
    collections::BTreeMap,
    fs::{self, OpenOptions},
    io::Write,
    path::PathBuf,
};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::ids;

/// Errors of the stand-in: a message for stderr or for an `{"error": …}` reply.
pub type Result<T> = std::result::Result<T, String>;

/// The state folder (`--home`).
#[derive(Clone, Debug)]
pub struct Home {
    /// Its path.
    pub dir: PathBuf,
    /// Who this process acts as when not the logged-in user on its own device (`admin as`).
    pub acting: Option<Acting>,
}

/// A user and device a test acts as (`admin as USER[:DEVICE] …`): another person, or the
/// logged-in user typing on another device (their phone).
#[derive(Clone, Debug)]
pub struct Acting {
    /// The username.
    pub user: String,
    /// The device name; `None`: the user's default device.
    pub device: Option<String>,
}

/// `users.json`: who is logged in, and what is known of each user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// The logged-in user.
    pub me: String,
    /// Known users (others get derived defaults).
    #[serde(default)]
    pub users: Vec<User>,
}

/// One user.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub following: Vec<String>,
    #[serde(default)]
    pub proofs: Vec<ProofSpec>,
}

/// One identity proof: `{"service": "github", "value": "alice"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofSpec {
    pub service: String,
    pub value: String,
}

impl Users {
    /// The user named `name`, or derived defaults.
    pub fn get(&self, name: &str) -> User {
        self.users
            .iter()
            .find(|u| u.username == name)
            .cloned()
            .unwrap_or_else(|| User {
                username: name.to_owned(),
                ..User::default()
            })
    }
}

impl User {
    /// The device name messages are sent from.
    pub fn device_name(&self) -> &str {
        self.device.as_deref().unwrap_or("laptop")
    }
}

/// One team of `teams.json` (keyed by its full name, `acme.ops`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// username → role (`owner`, `admin`, `writer`, `reader`, `bot`, `restrictedbot`).
    pub members: BTreeMap<String, String>,
    #[serde(default)]
    pub open: bool,
}

/// `teams.json`.
pub type Teams = BTreeMap<String, Team>;

/// One conversation of `conversations.json`, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvSpec {
    name: String,
    #[serde(default)]
    topic_name: Option<String>,
    #[serde(default)]
    members_type: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    members: Option<Vec<String>>,
}

/// A conversation with its defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv {
    pub id: String,
    pub name: String,
    /// `Some` for team channels.
    pub topic_name: Option<String>,
    pub members_type: String,
    pub members: Vec<String>,
}

impl Conv {
    /// The file stem of its messages: `acme#general`, `alice,bob`.
    pub fn key(&self) -> String {
        match &self.topic_name {
            Some(topic) => format!("{}#{topic}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One stored message of `messages/<key>.jsonl`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Stored {
    /// Assigned on append when 0.
    #[serde(default)]
    pub id: u64,
    pub sender: String,
    /// The device it was sent from; absent: the sender's default device (`users.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Assigned on append when 0 (one second after the previous message).
    #[serde(default)]
    pub sent_at_ms: i64,
    #[serde(flatten)]
    pub body: Body,
}

/// What a stored message is.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    Text {
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
    },
    Attachment {
        filename: String,
        #[serde(default)]
        title: String,
        /// The file's bytes, relative to the state folder; default `files/<key>/<id>-<filename>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    Edit {
        target: u64,
        body: String,
    },
    Delete {
        targets: Vec<u64>,
    },
    Reaction {
        target: u64,
        emoji: String,
    },
    Headline {
        headline: String,
    },
    Metadata {
        title: String,
    },
    Join,
    Leave,
    System {
        system: serde_json::Value,
    },
}

impl Home {
    fn read_json<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("stand-in state {}: {e}; fix the file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(format!("stand-in state {}: {e}", path.display())),
        }
    }

    /// `users.json`.
    pub fn users(&self) -> Result<Users> {
        let users: Users = self.read_json("users.json")?;
        if users.me.is_empty() {
            return Err(format!(
                "stand-in state {}: users.json needs \"me\" (the logged-in user)",
                self.dir.display()
            ));
        }
        Ok(users)
    }

    /// `teams.json`.
    pub fn teams(&self) -> Result<Teams> {
        self.read_json("teams.json")
    }

    /// `conversations.json`, defaults filled in from the teams.
    pub fn conversations(&self) -> Result<Vec<Conv>> {
        let specs: Vec<ConvSpec> = self.read_json("conversations.json")?;
        let teams = self.teams()?;
        Ok(specs.into_iter().map(|s| resolve(s, &teams)).collect())
    }

    /// The file of `conv`'s messages.
    pub fn messages_path(&self, conv: &Conv) -> PathBuf {
        self.dir
            .join("messages")
            .join(format!("{}.jsonl", conv.key()))
    }

    /// The stored messages of `conv`, in file order.
    pub fn messages(&self, conv: &Conv) -> Result<Vec<Stored>> {
        let path = self.messages_path(conv);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("stand-in state {}: {e}", path.display())),
        };
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let msg = serde_json::from_str(line)
                .map_err(|e| format!("stand-in state {}:{}: {e}", path.display(), n + 1))?;
            out.push(msg);
        }
        Ok(out)
    }

    /// Appends `msg` to `conv`, giving it the next id and a time when it has none.
    pub fn append(&self, conv: &Conv, msg: Stored) -> Result<Stored> {
        self.append_numbered(conv, |next| {
            let mut msg = msg;
            if msg.id == 0 {
                msg.id = next;
            }
            Ok(msg)
        })
    }

    /// Appends the message `build` makes from the next id of `conv` (an attachment stores its
    /// file under its id first), giving it a time when it has none.
    pub fn append_numbered(
        &self,
        conv: &Conv,
        build: impl FnOnce(u64) -> Result<Stored>,
    ) -> Result<Stored> {
        // Several processes write one conversation (kbbridge's `chat api`, people acting with
        // `admin as`): the id is taken and the line written under one lock, as the server
        // numbers messages one at a time.
        let _lock = self.lock(conv)?;
        let existing = self.messages(conv)?;
        let next = existing.iter().map(|m| m.id).max().unwrap_or(0) + 1;
        let mut msg = build(next)?;
        if msg.sent_at_ms == 0 {
            let last = existing.iter().map(|m| m.sent_at_ms).max();
            msg.sent_at_ms = last.map_or(1_600_000_000_000, |t| t + 1000);
        }
        let path = self.messages_path(conv);
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
            let mut line = serde_json::to_string(&msg).map_err(std::io::Error::from)?;
            line.push('\n');
            f.write_all(line.as_bytes())
        };
        write().map_err(|e| format!("stand-in state {}: {e}", path.display()))?;
        Ok(msg)
    }

    /// Holds `conv`'s write lock until dropped.
    fn lock(&self, conv: &Conv) -> Result<fs::File> {
        let path = self.messages_path(conv).with_extension("lock");
        let locked = || -> std::io::Result<fs::File> {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            f.lock()?;
            Ok(f)
        };
        locked().map_err(|e| format!("stand-in lock {}: {e}", path.display()))
    }

    /// Where an attachment's bytes are.
    pub fn attachment_file(
        &self,
        conv: &Conv,
        id: u64,
        filename: &str,
        file: Option<&str>,
    ) -> PathBuf {
        match file {
            Some(f) => self.dir.join(f),
            None => self
                .dir
                .join("files")
                .join(conv.key())
                .join(format!("{id}-{filename}")),
        }
    }

    /// Appends one line to `requests.log` (best effort: a test counting requests sees the
    /// failure as a missing line).
    pub fn log_request(&self, cmd: &str, method: &str, options: &serde_json::Value) {
        let line = serde_json::json!({"cmd": cmd, "method": method, "options": options});
        let path = self.dir.join("requests.log");
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
            let _ = writeln!(f, "{line}");
        }
    }

    /// The folder standing for KBFS (`/keybase/…`).
    pub fn kbfs(&self) -> PathBuf {
        self.dir.join("kbfs")
    }

    /// A path in the state folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn resolve(spec: ConvSpec, teams: &Teams) -> Conv {
    let is_team = teams.contains_key(&spec.name);
    let members_type = spec
        .members_type
        .unwrap_or_else(|| if is_team { "team" } else { "impteamnative" }.to_owned());
    let team = members_type == "team";
    let name = if team {
        spec.name
    } else {
        canonical_participants(&spec.name)
    };
    let topic_name = team.then(|| spec.topic_name.unwrap_or_else(|| "general".to_owned()));
    let members = spec.members.unwrap_or_else(|| match teams.get(&name) {
        Some(t) if team => t.members.keys().cloned().collect(),
        _ => participants(&name),
    });
    let id = spec
        .id
        .unwrap_or_else(|| ids::conv_id(&name, topic_name.as_deref().unwrap_or(""), &members_type));
    Conv {
        id,
        name,
        topic_name,
        members_type,
        members,
    }
}

/// `bob,Alice` → `alice,bob` (readers after `#` kept after the writers).
pub fn canonical_participants(name: &str) -> String {
    let (writers, readers) = match name.split_once('#') {
        Some((w, r)) => (w, Some(r)),
        None => (name, None),
    };
    let sort = |s: &str| {
        let mut v: Vec<String> = s.split(',').map(|p| p.trim().to_lowercase()).collect();
        v.sort();
        v.dedup();
        v.join(",")
    };
    match readers {
        Some(r) => format!("{}#{}", sort(writers), sort(r)),
        None => sort(writers),
    }
}

/// Everyone in a direct or group chat name, readers included.
pub fn participants(name: &str) -> Vec<String> {
    name.split([',', '#']).map(str::to_owned).collect()
}
