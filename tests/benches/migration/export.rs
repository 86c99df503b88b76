//! A generated keybase-export (JSON Lines, the shape of `tests/fixtures/sample-export`): one
//! team with a subteam, 8 channels, and a mix of texts, small files, replies, reactions and
//! edited messages. Deterministic (a fixed-seed generator), so two runs migrate the same thing.

use std::{fmt::Write as _, fs, io, path::Path};

use serde_json::{Map, Value, json};

/// The channels: five of the team `bench`, three of its subteam `bench.ops`.
pub const CHANNELS: [&str; 8] = [
    "bench#general",
    "bench#random",
    "bench#dev",
    "bench#design",
    "bench#support",
    "bench.ops#alerts",
    "bench.ops#deploys",
    "bench.ops#oncall",
];

/// Reaction keys that keybase-bot's camel-casing leaves as they are, with their emoji.
const EMOJI: [(&str, &str); 5] = [
    ("joy", "😂"),
    ("tada", "🎉"),
    ("eyes", "👀"),
    ("heart", "❤️"),
    ("rocket", "🚀"),
];

const USERS: usize = 12;

/// The link in the messages with markup.
const URL: &str = "https://example.invalid/x";

/// A small PNG (2×2) and a small text, the two kinds of file.
const PNG: &[u8] =
    include_bytes!("../../fixtures/sample-export/attachments/acme#general/23-whiteboard.png");
const TXT: &[u8] = b"notes from the meeting: ship it on Tuesday, write the runbook first.\n";

/// One generated message, as both sides send it.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Its Keybase id in its channel.
    pub id: u64,
    pub sender: String,
    pub text: String,
    /// The HTML kbbridge makes of `text` when it has markup (the minimal client sends the same
    /// `formatted_body`, so both cost Synapse the same).
    pub html: Option<String>,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub reply_to: Option<u64>,
    /// (file name, bytes, MIME type).
    pub file: Option<(String, &'static [u8], &'static str)>,
    /// (reacting user, emoji, time in ms).
    pub reactions: Vec<(String, &'static str, i64)>,
    pub edited: bool,
}

/// One channel's messages, oldest first.
#[derive(Clone, Debug)]
pub struct Channel {
    pub name: &'static str,
    pub messages: Vec<Msg>,
}

impl Channel {
    /// The events its copy is: one per message and one per reaction.
    pub fn events(&self) -> usize {
        self.messages.iter().map(|m| 1 + m.reactions.len()).sum()
    }
}

/// A fixed-seed xorshift generator: enough for a mix, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `pct`/100.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn user(i: u64) -> String {
    format!("user{i:02}")
}

/// `total` messages spread evenly over [`CHANNELS`]: ~5 % with a file, ~10 % replies, ~10 %
/// with reactions (one or two users), ~3 % edited.
pub fn generate(total: usize) -> Vec<Channel> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let per = total.div_ceil(CHANNELS.len());
    let start_ms: i64 = 1_650_000_000_000;
    CHANNELS
        .iter()
        .map(|&name| {
            let mut messages: Vec<Msg> = Vec::with_capacity(per);
            // Ids are shared with the reaction pseudo-lines, which come right after.
            let mut next_id = 1;
            for i in 0..per as i64 {
                let id = next_id;
                next_id += 1;
                let at_ms = start_ms + i * 60_000;
                let sender = user(rng.below(USERS as u64));
                let reply_to = (id > 1 && rng.pct(10))
                    .then(|| messages[rng.below(messages.len() as u64) as usize].id);
                let file = rng.pct(5).then(|| {
                    if rng.pct(50) {
                        (format!("shot{id}.png"), PNG, "image/png")
                    } else {
                        (format!("notes{id}.txt"), TXT, "text/plain")
                    }
                });
                let mut reactions = Vec::new();
                if rng.pct(10) {
                    let (_, emoji) = EMOJI[rng.below(EMOJI.len() as u64) as usize];
                    let first = rng.below(USERS as u64);
                    reactions.push((user(first), emoji, at_ms + 5_000));
                    if rng.pct(30) {
                        reactions.push((user((first + 1) % USERS as u64), emoji, at_ms + 9_000));
                    }
                    next_id += reactions.len() as u64;
                }
                let mut text = format!("message {id} in {name}: some words about the plan");
                let mut html = None;
                if rng.pct(20) {
                    html = Some(format!(
                        "{text}, with a <strong>bold</strong> word and a link \
                         <a href=\"{URL}\">{URL}</a>"
                    ));
                    text.push_str(&format!(", with a *bold* word and a link {URL}"));
                }
                messages.push(Msg {
                    id,
                    sender,
                    text,
                    html,
                    at_ms,
                    reply_to,
                    file,
                    reactions,
                    edited: rng.pct(3),
                });
            }
            Channel { name, messages }
        })
        .collect()
}

fn uid(name: &str) -> String {
    format!(
        "{:030x}19",
        name.bytes().fold(7u128, |h, b| h * 31 + u128::from(b))
    )
}

fn emoji_key(emoji: &str) -> &'static str {
    EMOJI
        .iter()
        .find(|(_, e)| *e == emoji)
        .map_or("joy", |(k, _)| k)
}

/// One export line, keys in keybase-export's order.
fn line(channel: &str, m: &Msg) -> Value {
    let mut o = Map::new();
    o.insert("text".into(), json!(m.text));
    o.insert("id".into(), json!(m.id));
    if !m.reactions.is_empty() {
        let mut by_key = Map::new();
        for (n, (who, emoji, at)) in m.reactions.iter().enumerate() {
            let entry = by_key.entry(emoji_key(emoji)).or_insert_with(
                || json!({"decorated": format!(":{}:", emoji_key(emoji)), "users": {}}),
            );
            entry["users"][who] = json!({"ctime": at, "reactionMsgId": m.id + 1 + n as u64});
        }
        o.insert("reactions".into(), Value::Object(by_key));
    }
    if let Some(r) = m.reply_to {
        o.insert("reply_to".into(), json!(r));
    }
    if let Some((file, _, mime)) = &m.file {
        let asset_type = u8::from(mime.starts_with("image/"));
        o.insert(
            "attachment".into(),
            json!({"filename": file, "asset_type": asset_type}),
        );
    }
    o.insert("sent_at".into(), json!(m.at_ms / 1000));
    o.insert("sent_at_ms".into(), json!(m.at_ms));
    if m.edited {
        o.insert("edited".into(), json!(true));
    }
    sender_fields(&mut o, &m.sender);
    o.insert("channel_name".into(), json!(channel));
    Value::Object(o)
}

fn sender_fields(o: &mut Map<String, Value>, who: &str) {
    o.insert("sender_username".into(), json!(who));
    o.insert("sender_uid".into(), json!(uid(who)));
    o.insert("device_id".into(), json!(format!("{:030x}18", who.len())));
    o.insert("device_name".into(), json!("laptop"));
}

/// Writes `export.jsonl` and its `attachments/` folder under `dir`; returns the file's path.
pub fn write(dir: &Path, channels: &[Channel]) -> io::Result<std::path::PathBuf> {
    let mut out = String::new();
    for c in channels {
        let folder = dir.join("attachments").join(c.name);
        fs::create_dir_all(&folder)?;
        // Newest first, each message's reaction pseudo-lines (higher ids) before it.
        for m in c.messages.iter().rev() {
            for (n, (who, emoji, at)) in m.reactions.iter().enumerate().rev() {
                let mut o = Map::new();
                let text = format!("[Reaction ':{}:' to msg id {}]", emoji_key(emoji), m.id);
                o.insert("text".into(), json!(text));
                o.insert("id".into(), json!(m.id + 1 + n as u64));
                o.insert("sent_at".into(), json!(at / 1000));
                o.insert("sent_at_ms".into(), json!(at));
                sender_fields(&mut o, who);
                o.insert("special".into(), json!(true));
                o.insert("channel_name".into(), json!(c.name));
                writeln!(out, "{}", Value::Object(o)).ok();
            }
            writeln!(out, "{}", line(c.name, m)).ok();
            if let Some((file, bytes, _)) = &m.file {
                fs::write(folder.join(format!("{}-{file}", m.id)), bytes)?;
            }
        }
    }
    let path = dir.join("export.jsonl");
    fs::write(&path, out)?;
    Ok(path)
}
