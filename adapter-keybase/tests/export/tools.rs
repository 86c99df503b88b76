//! The history of `history.rs` written as each export tool writes it, files and attachments.

use std::path::Path;

use serde_json::{Value, json};

use super::history::{
    Body, CONVS, Event, attachments, export_line, listed, read_reply, uid, wrapper,
};

/// Writes `bytes` to `path`, creating its folders.
pub fn put(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The listed wrappers of conversation `conv`, newest first.
fn wrappers(events: &[Event], conv: usize) -> Vec<Value> {
    let listed = listed(events, conv);
    listed.iter().map(|e| wrapper(&listed, e)).collect()
}

/// keybase-export: `dir/export.jsonl` (each channel newest first) and
/// `dir/attachments/<channel_name>/<id>-<filename>`.
pub fn keybase_export(events: &[Event], dir: &Path) {
    let mut text = String::new();
    for conv in 0..CONVS.len() {
        let listed = listed(events, conv);
        for e in &listed {
            if let Some(line) = export_line(&listed, e) {
                text.push_str(&line.to_string());
                text.push('\n');
            }
        }
    }
    put(&dir.join("export.jsonl"), text);
    for (e, name, data) in attachments(events) {
        let chat = CONVS[e.conv].chat();
        put(
            &dir.join("attachments")
                .join(chat)
                .join(format!("{}-{name}", e.id)),
            data,
        );
    }
}

/// A folder of raw dumps, as scripts leave them: a `read` reply, two conversations' replies
/// one per line in one file, and a pretty-printed array of wrappers (with an undecryptable
/// entry); attachments in `attachments/<chat>/<id>-<filename>`.
pub fn raw_dump_folder(events: &[Event], dir: &Path) {
    put(
        &dir.join("general.json"),
        read_reply(wrappers(events, 0)).to_string(),
    );
    let two = format!(
        "{}\n{}\n",
        read_reply(wrappers(events, 1)),
        read_reply(wrappers(events, 2))
    );
    put(&dir.join("conv.json"), two);
    let mut dm = wrappers(events, 3);
    dm.insert(
        1,
        json!({"error": "unable to decrypt chat message: key not found"}),
    );
    put(
        &dir.join("alice_bob/chat_history.json"),
        serde_json::to_string_pretty(&dm).unwrap(),
    );
    for (e, name, data) in attachments(events) {
        let chat = CONVS[e.conv].chat();
        let at = dir
            .join("attachments")
            .join(&chat)
            .join(format!("{}-{name}", e.id));
        put(&at, data);
        // The folder of dumps nested in it keeps its own attachments.
        if e.conv == 3 {
            let at = dir.join("alice_bob/attachments").join(chat);
            put(&at.join(format!("{}-{name}", e.id)), data);
        }
    }
}

/// dentropy/keybase-binding's `out/`: `Teams/<team>/<topic>/NNN.json`, `DMs/<name>/NNN.json`
/// (arrays of wrappers, newest first, split into pages), `Attachments/<uid>-<ms>-<name>`, and
/// the files it writes beside them.
pub fn binding_tree(events: &[Event], out: &Path) {
    for (conv, c) in CONVS.iter().enumerate() {
        let folder = match c.topic {
            Some(topic) => out.join("Teams").join(c.name).join(topic),
            None => out.join("DMs").join(c.name),
        };
        // Pages of (in the tool) 10,000 messages; here of 6, to have several.
        for (i, page) in wrappers(events, conv).chunks(6).enumerate() {
            let text = serde_json::to_string(page).unwrap();
            put(&folder.join(format!("{:03}.json", i + 1)), text);
        }
    }
    put(&out.join("teams.json"), r#"["acme", "acme.ops"]"#);
    put(
        &out.join("team_channels.json"),
        r#"{"acme": ["general", "random"], "acme.ops": ["alerts"]}"#,
    );
    std::fs::create_dir_all(out.join("GitRepos")).unwrap();
    std::fs::create_dir_all(out.join("UserMetadata")).unwrap();
    binding_attachments(events, out);
}

/// `out/Attachments/<sender uid>-<sent_at_ms>-<filename, spaces as _>`.
pub fn binding_attachments(events: &[Event], out: &Path) {
    for (e, name, data) in attachments(events) {
        let file = format!("{}-{}-{}", uid(e.sender), e.ms, name.replace(' ', "_"));
        put(&out.join("Attachments").join(file), data);
    }
}

/// dentropy/keybase-binding's `out/keybase_export.sqlite`, with every table it creates, and its
/// attachments beside it.
pub async fn binding_sqlite(events: &[Event], out: &Path) -> std::path::PathBuf {
    use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

    std::fs::create_dir_all(out).unwrap();
    let db = out.join("keybase_export.sqlite");
    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    for table in [
        "whoami_t(keybase_username)",
        "teams_t(team_name)",
        "team_members_t(team_name, member_name)",
        "team_channels_t(team_name, channel_name)",
        "group_channels_t(group_name)",
        "group_messages_t(group_name, message_json)",
        "team_messages_t(team_name, topic_name, message_json)",
        "git_repos_t(git_repo_name, git_repo_path)",
        "followers_t(keybase_username)",
        "following_t(keybase_username)",
        "user_metadata_t(keybase_username, metadata)",
    ] {
        sqlx::query(&format!("CREATE TABLE IF NOT EXISTS {table}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO whoami_t VALUES ('alice')")
        .execute(&mut conn)
        .await
        .unwrap();
    for (conv, c) in CONVS.iter().enumerate() {
        for w in wrappers(events, conv) {
            let json = serde_json::to_string(&w).unwrap();
            let query = match c.topic {
                Some(topic) => sqlx::query(
                    "INSERT INTO team_messages_t(team_name, topic_name, message_json) \
                     VALUES(?, ?, json(?))",
                )
                .bind(c.name)
                .bind(topic)
                .bind(json),
                None => sqlx::query(
                    "INSERT INTO group_messages_t(group_name, message_json) VALUES(?, json(?))",
                )
                .bind(c.name)
                .bind(json),
            };
            query.execute(&mut conn).await.unwrap();
        }
    }
    binding_attachments(events, out);
    db
}

/// keybase-binding-nodejs's `<root>/<user>/`: `team_memberships.json`,
/// `teams/<team>-topics.json`, `teams/<team>/<topic>.json` (wrappers with its extra keys),
/// `teams/attachments/<team>.<topic>.<id>.<extension>`. It exports team channels only.
pub fn nodejs(events: &[Event], root: &Path, user: &str) -> std::path::PathBuf {
    let home = root.join(user);
    put(
        &home.join("team_memberships.json"),
        r#"[{"Team":"acme","Role":"owner","Members":"4"},{"Team":"acme.ops","Role":"admin","Members":"2"}]"#,
    );
    for (conv, c) in CONVS.iter().enumerate() {
        let Some(topic) = c.topic else { continue };
        let mut messages = wrappers(events, conv);
        for m in &mut messages {
            let id = m["msg"]["id"].clone();
            m["id"] = json!(format!("{}-{}-{id}", c.name, c.name));
            m["msg"]["topic_id"] = id;
            if let Some(body) = m["msg"]["content"]["text"]["body"].as_str() {
                let words = body.split(' ').count();
                let chars = body.chars().count();
                m["msg"]["content"]["content_character_length"] = json!(chars);
                m["msg"]["content"]["content_word_length"] = json!(words);
            }
        }
        let file = home
            .join("teams")
            .join(c.name)
            .join(format!("{topic}.json"));
        put(&file, serde_json::to_string(&messages).unwrap());
        let topics = json!({"result": {"conversations": [
            {"id": "0000aa", "channel": {"name": c.name, "members_type": "team",
             "topic_type": "chat", "topic_name": topic}}]}});
        put(
            &home.join("teams").join(format!("{}-topics.json", c.name)),
            topics.to_string(),
        );
    }
    for (e, name, data) in attachments(events) {
        let c = &CONVS[e.conv];
        let Some(topic) = c.topic else { continue };
        let ext = name.rsplit('.').next().unwrap();
        let file = format!("{}.{topic}.{}.{ext}", c.name, e.id);
        put(&home.join("teams/attachments").join(file), data);
    }
    home
}

/// keybase-binding-original's `exports/<team>-messages.json`: `{"topic_name": {"<topic>":
/// <read reply, oldest first>}}`, one file per team. It downloads no attachment.
pub fn original(events: &[Event], dir: &Path) {
    for team in ["acme", "acme.ops"] {
        let mut topics = serde_json::Map::new();
        for (conv, c) in CONVS.iter().enumerate() {
            let Some(topic) = c.topic.filter(|_| c.name == team) else {
                continue;
            };
            let mut messages = wrappers(events, conv);
            messages.reverse();
            topics.insert(topic.to_owned(), read_reply(messages));
        }
        let file = dir.join(format!("{team}-messages.json"));
        put(&file, json!({ "topic_name": topics }).to_string());
    }
}

/// The events up to and including `ms`: the history as an export made then saw it.
pub fn until(events: &[Event], ms: i64) -> Vec<Event> {
    events.iter().filter(|e| e.ms <= ms).cloned().collect()
}

/// Whether the history holds an event of each kind the layouts must carry.
pub fn covers_everything(events: &[Event]) -> bool {
    let has = |f: fn(&Body) -> bool| events.iter().any(|e| f(&e.body));
    has(|b| matches!(b, Body::Text(_, Some(_))))
        && has(|b| matches!(b, Body::Edit(..)))
        && has(|b| matches!(b, Body::Delete(_)))
        && has(|b| matches!(b, Body::Reaction(..)))
        && has(|b| matches!(b, Body::Attachment { .. }))
        && has(|b| matches!(b, Body::Headline(_)))
        && has(|b| matches!(b, Body::AddedToTeam))
}
