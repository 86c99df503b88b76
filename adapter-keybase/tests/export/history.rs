//! One small generated Keybase history (a team with a subteam, three channels, a direct chat;
//! replies, edits, deletes, reactions and an un-reaction, attachments, a system message, a
//! headline, a join), and what the `read` API returns for it, from which `layouts.rs` writes
//! every tool's layout.

use serde_json::{Value, json};

/// A conversation.
pub struct Conv {
    /// The team, or the participants of a direct chat.
    pub name: &'static str,
    /// The channel, for team conversations.
    pub topic: Option<&'static str>,
}

impl Conv {
    /// The chat as kbbridge and keybase-export name it.
    pub fn chat(&self) -> String {
        match self.topic {
            Some(topic) => format!("{}#{topic}", self.name),
            None => self.name.to_owned(),
        }
    }

    fn channel(&self) -> Value {
        match self.topic {
            Some(topic) => json!({"name": self.name, "members_type": "team",
                "topic_type": "chat", "topic_name": topic}),
            None => json!({"name": self.name, "members_type": "impteamnative",
                "topic_type": "chat"}),
        }
    }
}

/// The conversations, by index.
pub const CONVS: [Conv; 4] = [
    Conv {
        name: "acme",
        topic: Some("general"),
    },
    Conv {
        name: "acme",
        topic: Some("random"),
    },
    Conv {
        name: "acme.ops",
        topic: Some("alerts"),
    },
    Conv {
        name: "alice,bob",
        topic: None,
    },
];

/// What a message holds.
#[derive(Clone, Debug)]
pub enum Body {
    Text(&'static str, Option<u64>),
    Attachment {
        filename: &'static str,
        title: &'static str,
        data: &'static [u8],
    },
    Edit(u64, &'static str),
    Delete(Vec<u64>),
    Reaction(u64, &'static str),
    Headline(&'static str),
    /// alice added dave as a writer.
    AddedToTeam,
    Join,
}

/// One message of the history.
#[derive(Clone, Debug)]
pub struct Event {
    /// Index into [`CONVS`].
    pub conv: usize,
    pub id: u64,
    pub sender: &'static str,
    pub ms: i64,
    pub body: Body,
}

/// The sender's uid (Keybase user ids end in `19`).
pub fn uid(user: &str) -> String {
    let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0>30}19")
}

/// Every message, in id order per conversation; times interleave the conversations.
pub fn history() -> Vec<Event> {
    use Body::*;
    let general: Vec<(&str, Body)> = vec![
        ("alice", AddedToTeam),
        ("alice", Text("hello *team*", None)),
        ("bob", Text("hi alice", Some(2))),
        (
            "carol",
            Attachment {
                filename: "sunset photo.jpg",
                title: "Sunset",
                data: b"JPEG sunset bytes",
            },
        ),
        ("bob", Edit(3, "hi alice, welcome")),
        ("dave", Reaction(2, ":tada:")),
        ("carol", Reaction(2, ":+1:")),
        ("alice", Text("to be deleted", None)),
        ("alice", Delete(vec![8])),
        ("bob", Reaction(4, ":heart:")),
        // bob takes his reaction back.
        ("bob", Delete(vec![10])),
        ("dave", Join),
        ("alice", Headline("Be *nice*")),
        ("carol", Text("last words", Some(3))),
        ("alice", Edit(2, "hello *team*!")),
        ("bob", Reaction(3, ":joy:")),
    ];
    let random: Vec<(&str, Body)> = vec![
        ("bob", Text("random thoughts", None)),
        (
            "alice",
            Attachment {
                filename: "notes",
                title: "",
                data: b"plain notes",
            },
        ),
        ("carol", Reaction(1, ":joy:")),
    ];
    let alerts: Vec<(&str, Body)> = vec![
        ("alice", Text("disk full on db1", None)),
        ("dave", Text("fixed", Some(1))),
        ("alice", Edit(1, "disk full on db1 (resolved)")),
        (
            "dave",
            Attachment {
                filename: "graph.png",
                title: "after the fix",
                data: b"\x89PNG graph",
            },
        ),
    ];
    let dm: Vec<(&str, Body)> = vec![
        ("alice", Text("psst", None)),
        (
            "bob",
            Attachment {
                filename: "report v2.pdf",
                title: "the report",
                data: b"%PDF-1.4 report",
            },
        ),
        ("alice", Reaction(2, ":+1:")),
        ("bob", Text("secret", None)),
        ("bob", Delete(vec![4])),
        ("alice", Text("ok", Some(2))),
    ];
    let mut events = Vec::new();
    for (conv, messages) in [general, random, alerts, dm].into_iter().enumerate() {
        for (i, (sender, body)) in messages.into_iter().enumerate() {
            let id = i as u64 + 1;
            events.push(Event {
                conv,
                id,
                sender,
                ms: 1_600_000_000_000 + id as i64 * 600_000 + conv as i64 * 60_000 + 123,
                body,
            });
        }
    }
    events
}

/// What a conversation shows once every message of `events` is applied: the messages `read`
/// lists (deleted ones, their edits, and taken-back reactions gone), newest first.
pub fn listed(events: &[Event], conv: usize) -> Vec<&Event> {
    let mine: Vec<&Event> = events.iter().filter(|e| e.conv == conv).collect();
    let deleted: Vec<u64> = mine
        .iter()
        .flat_map(|e| match &e.body {
            Body::Delete(ids) => ids.clone(),
            _ => Vec::new(),
        })
        .collect();
    let mut out: Vec<&Event> = mine
        .into_iter()
        .filter(|e| !deleted.contains(&e.id))
        .filter(|e| !matches!(e.body, Body::Edit(t, _) if deleted.contains(&t)))
        .collect();
    out.reverse();
    out
}

/// The latest edit of message `id`, if any.
fn edit_of<'a>(listed: &[&'a Event], id: u64) -> Option<&'a str> {
    listed.iter().find_map(|e| match e.body {
        Body::Edit(t, body) if t == id => Some(body),
        _ => None,
    })
}

/// The reactions on message `id`: (emoji, user, ctime, reaction message id), oldest first.
pub fn reactions_of(listed: &[&Event], id: u64) -> Vec<(&'static str, &'static str, i64, u64)> {
    let mut out: Vec<_> = listed
        .iter()
        .filter_map(|e| match e.body {
            Body::Reaction(t, emoji) if t == id => Some((emoji, e.sender, e.ms, e.id)),
            _ => None,
        })
        .collect();
    out.reverse();
    out
}

/// One `{"msg": …}` wrapper as `read` returns it: edits folded into the body, reactions
/// aggregated.
pub fn wrapper(listed: &[&Event], e: &Event) -> Value {
    let conv = &CONVS[e.conv];
    let content = match &e.body {
        Body::Text(body, reply_to) => {
            let body = edit_of(listed, e.id).unwrap_or(body);
            let mut text = json!({"body": body, "payments": null, "userMentions": null,
                "teamMentions": null, "emojis": null});
            if let Some(r) = reply_to {
                text["replyTo"] = json!(r);
                text["replyToUID"] = json!(uid("alice"));
            }
            json!({"type": "text", "text": text})
        }
        Body::Attachment {
            filename,
            title,
            data,
        } => json!({"type": "attachment", "attachment": {
            "object": {"filename": filename, "region": "us-east-1",
                "endpoint": "https://s3.amazonaws.com", "bucket": "kb", "path": "8a7f",
                "size": data.len(), "mimeType": "application/octet-stream", "title": title,
                "metadata": {"assetType": 1}, "tag": 0},
            "previews": null, "metadata": null, "uploaded": true, "userMentions": null,
            "teamMentions": null, "emojis": null}}),
        Body::Edit(target, body) => json!({"type": "edit", "edit": {"messageID": target,
            "body": body, "userMentions": null, "teamMentions": null, "emojis": null}}),
        Body::Delete(ids) => json!({"type": "delete", "delete": {"messageIDs": ids}}),
        Body::Reaction(target, emoji) => {
            json!({"type": "reaction", "reaction": {"m": target, "b": emoji, "e": null}})
        }
        Body::Headline(h) => json!({"type": "headline", "headline": {"headline": h,
            "emojis": null}}),
        Body::AddedToTeam => json!({"type": "system", "system": {"systemType": 0,
            "addedtoteam": {"team": "acme", "adder": "alice", "addee": "dave", "role": 2,
            "bulkAdds": null}}}),
        Body::Join => json!({"type": "join"}),
    };
    let mut msg = json!({
        "id": e.id,
        "conversation_id": format!("0000{:060x}", e.conv + 1),
        "channel": conv.channel(),
        "sender": {"uid": uid(e.sender), "username": e.sender,
            "device_id": "9f8e7d6c5b4a39281706f5e4d3c2b118", "device_name": "laptop"},
        "sent_at": e.ms / 1000,
        "sent_at_ms": e.ms,
        "content": content,
        "prev": [],
        "unread": false,
        "channel_mention": "none",
    });
    let reactions = reactions_of(listed, e.id);
    if !reactions.is_empty() {
        let mut map = serde_json::Map::new();
        for (emoji, user, ms, id) in reactions {
            let entry = map
                .entry(emoji)
                .or_insert_with(|| json!({"decorated": emoji, "users": {}}));
            entry["users"][user] = json!({"ctime": ms, "reactionMsgID": id});
        }
        msg["reactions"] = json!({"reactions": map});
    }
    json!({ "msg": msg })
}

/// A `read` reply holding `messages`.
pub fn read_reply(messages: Vec<Value>) -> Value {
    let num = messages.len();
    json!({"result": {"messages": messages,
        "pagination": {"next": "AQ==", "previous": "OQ==", "num": num, "last": true}}})
}

/// lodash `camelCase` of the emoji used here, as keybase-bot mangles reaction keys.
fn mangled(emoji: &str) -> &'static str {
    match emoji {
        ":+1:" => "1",
        ":tada:" => "tada",
        ":heart:" => "heart",
        ":joy:" => "joy",
        other => panic!("no mangled key for {other}"),
    }
}

/// The keybase-export line of a listed message, or `None` for what it does not write.
pub fn export_line(listed: &[&Event], e: &Event) -> Option<Value> {
    let conv = &CONVS[e.conv];
    let mut line = serde_json::Map::new();
    let mut tail = json!({
        "sent_at": e.ms / 1000,
        "sent_at_ms": e.ms,
        "sender_username": e.sender,
        "sender_uid": uid(e.sender),
        "device_id": "9f8e7d6c5b4a39281706f5e4d3c2b118",
        "device_name": "laptop",
    });
    match &e.body {
        Body::Edit(..) | Body::Delete(_) => return None,
        Body::Text(body, reply_to) => {
            line.insert("text".into(), json!(edit_of(listed, e.id).unwrap_or(body)));
            line.insert("id".into(), json!(e.id));
            let reactions = reactions_of(listed, e.id);
            if !reactions.is_empty() {
                let mut map = serde_json::Map::new();
                for (emoji, user, ms, id) in reactions {
                    let entry = map
                        .entry(mangled(emoji))
                        .or_insert_with(|| json!({"decorated": emoji, "users": {}}));
                    entry["users"][user] = json!({"ctime": ms, "reactionMsgId": id});
                }
                line.insert("reactions".into(), Value::Object(map));
            }
            if let Some(r) = reply_to {
                line.insert("reply_to".into(), json!(r));
            }
            if edit_of(listed, e.id).is_some() {
                tail["edited"] = json!(true);
            }
        }
        Body::Attachment {
            filename, title, ..
        } => {
            line.insert("text".into(), json!(title));
            line.insert("id".into(), json!(e.id));
            let reactions = reactions_of(listed, e.id);
            if !reactions.is_empty() {
                let mut map = serde_json::Map::new();
                for (emoji, user, ms, id) in reactions {
                    let entry = map
                        .entry(mangled(emoji))
                        .or_insert_with(|| json!({"decorated": emoji, "users": {}}));
                    entry["users"][user] = json!({"ctime": ms, "reactionMsgId": id});
                }
                line.insert("reactions".into(), Value::Object(map));
            }
            line.insert(
                "attachment".into(),
                json!({"filename": filename, "asset_type": 1}),
            );
        }
        Body::Reaction(target, emoji) => {
            line.insert(
                "text".into(),
                json!(format!("[Reaction '{emoji}' to msg id {target}]")),
            );
            line.insert("id".into(), json!(e.id));
            tail["special"] = json!(true);
        }
        Body::Headline(h) => {
            line.insert("text".into(), json!(format!("[New headline: \"{h}\"]")));
            line.insert("id".into(), json!(e.id));
            tail["special"] = json!(true);
        }
        Body::AddedToTeam => {
            line.insert(
                "text".into(),
                json!("[alice added dave to the team acme as writer]"),
            );
            line.insert("id".into(), json!(e.id));
            tail["system"] = json!(true);
            tail["special"] = json!(true);
        }
        Body::Join => {
            line.insert("id".into(), json!(e.id));
        }
    }
    if let Value::Object(tail) = tail {
        line.extend(tail);
    }
    line.insert("channel_name".into(), json!(conv.chat()));
    Some(Value::Object(line))
}

/// The attachments of `events` that are still listed and that a tool could have stored (the
/// file name is one plain name): (event, filename, bytes).
pub fn attachments(events: &[Event]) -> Vec<(&Event, &'static str, &'static [u8])> {
    (0..CONVS.len())
        .flat_map(|conv| listed(events, conv))
        .filter_map(|e| match e.body {
            Body::Attachment { filename, data, .. } => Some((e, filename, data)),
            _ => None,
        })
        .filter(|(_, name, _)| !name.contains(['/', '\\']) && !name.contains(".."))
        .collect()
}
