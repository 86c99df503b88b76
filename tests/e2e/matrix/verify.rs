//! What an export should become on Matrix, and the check that a room holds exactly that.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use adapter_keybase::KeybaseExport;
use adapter_matrix::{SOURCE_KEY, emoji, testing::ReadBack};
use bridge_core::{ChatId, Cursor, HistorySource, Message, MessageKind, UserId};
use serde_json::Value;

use super::Bridge;

/// Every message of every chat of `export`, oldest first, as the reader gives them.
pub(super) async fn expected(export: &Path) -> HashMap<String, Vec<Message>> {
    let export = KeybaseExport::open(export).unwrap();
    let mut all = HashMap::new();
    for summary in export.chats() {
        let chat: ChatId = summary.chat.clone();
        let mut msgs = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = export.page(&chat, cursor.as_ref(), 500).await.unwrap();
            msgs.extend(page.messages);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        all.insert(summary.chat.to_string(), msgs);
    }
    all
}

/// Events a message becomes: its body, its further files, one per (emoji, user).
pub(super) fn expected_parts(m: &Message) -> usize {
    body_parts(m) + reactions(m).len()
}

/// The events before a message's reactions: its body and its further files.
fn body_parts(m: &Message) -> usize {
    1 + m.content.attachments.len().saturating_sub(1)
}

/// A message's reactions as events: one per (emoji key, user), in the origin's order, with
/// the event's time (the reaction's own where the export has it, never before the message).
fn reactions(m: &Message) -> Vec<(String, &UserId, i64)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in &m.reactions {
        let key = emoji::reaction_key(&r.emoji, r.exact);
        for (i, user) in r.users.iter().enumerate() {
            if seen.insert((key.clone(), user.id.clone())) {
                let at = r.time_of(i).map_or(m.sent_at, |t| t.max(m.sent_at));
                out.push((key.clone(), &user.id, at.timestamp_millis()));
            }
        }
    }
    out
}

fn source(e: &Value) -> (String, usize) {
    let s = &e["content"][SOURCE_KEY];
    (
        s["msg"].as_str().unwrap_or_default().to_owned(),
        s["part"].as_u64().unwrap_or(u64::MAX) as usize,
    )
}

/// Checks that `room` holds exactly `msgs`: each part once, in order, from the right sender,
/// at the original time, replies and reactions on the right events, files byte-identical.
/// Returns how many events it checked.
pub(super) async fn verify_room(
    bridge: &Bridge,
    read: &ReadBack,
    room: &str,
    msgs: &[Message],
) -> usize {
    let events = read.messages(room).await.unwrap();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["content"].get(SOURCE_KEY).is_some())
        .collect();
    let index: HashMap<&str, usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.origin.msg.as_str(), i))
        .collect();
    let mut by_part: HashMap<(String, usize), &Value> = HashMap::new();
    let mut last = None;
    for e in &ours {
        let (msg, part) = source(e);
        let i = *index
            .get(msg.as_str())
            .unwrap_or_else(|| panic!("{room}: unknown message {msg}"));
        assert!(
            Some((i, part)) > last,
            "{room}: ({msg}, {part}) out of order after {last:?}"
        );
        last = Some((i, part));
        assert!(
            by_part.insert((msg.clone(), part), e).is_none(),
            "{room}: ({msg}, {part}) twice"
        );
    }
    let mut total = 0;
    for m in msgs {
        let id = m.origin.msg.as_str().to_owned();
        let parts = expected_parts(m);
        total += parts;
        let get = |p: usize| {
            *by_part
                .get(&(id.clone(), p))
                .unwrap_or_else(|| panic!("{room}: ({id}, {p}) missing"))
        };
        let author = match m.kind {
            MessageKind::Notice => bridge.bot(),
            MessageKind::Normal => bridge.ghost(m.sender.id.as_str()),
        };
        for p in 0..body_parts(m) {
            let e = get(p);
            assert_eq!(
                e["origin_server_ts"].as_i64(),
                Some(m.sent_at.timestamp_millis()),
                "{room}: {id}/{p}"
            );
        }
        let first = get(0);
        assert_eq!(first["sender"], author.as_str(), "{room}: {id}");
        let parent = m
            .reply_to
            .as_ref()
            .and_then(|p| by_part.get(&(p.as_str().to_owned(), 0)));
        match (m.reply_to.as_ref(), parent) {
            (Some(_), Some(parent)) => assert_eq!(
                first["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], parent["event_id"],
                "{room}: reply {id}"
            ),
            (Some(_), None) => assert!(
                first["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("> ")),
                "{room}: {id} replies to a message not copied: {first}"
            ),
            (None, _) => assert!(
                first["content"].get("m.relates_to").is_none(),
                "{room}: {id}"
            ),
        }
        for (n, att) in m.content.attachments.iter().enumerate() {
            let e = get(n);
            if let Some(why) = att.unavailable_reason() {
                // Not in the export: the copy says so instead.
                let note = format!("📎 {}", att.not_copied(why));
                let body = e["content"]["body"].as_str().unwrap_or_default();
                assert!(body.ends_with(&note), "{room}: {id}/{n}: {body:?}");
                assert!(e["content"].get("url").is_none(), "{room}: {id}/{n}");
                continue;
            }
            let bytes = att.data.read().await.unwrap();
            let url = e["content"]["url"]
                .as_str()
                .unwrap_or_else(|| panic!("{room}: {id}/{n} has no file"));
            assert_eq!(
                read.download(url).await.unwrap(),
                bytes,
                "{room}: {id}/{n} differs"
            );
            assert_eq!(e["content"]["filename"], att.name.as_str());
        }
        for (n, (key, user, at)) in reactions(m).into_iter().enumerate() {
            let part = body_parts(m) + n;
            let e = get(part);
            assert_eq!(
                e["origin_server_ts"].as_i64(),
                Some(at),
                "{room}: {id}/{part} keeps its reaction's time"
            );
            assert_eq!(e["type"], "m.reaction", "{room}: {id}/{part}");
            assert_eq!(
                e["sender"],
                bridge.ghost(user.as_str()).as_str(),
                "{room}: {id}/{part}"
            );
            let rel = &e["content"]["m.relates_to"];
            assert_eq!(rel["event_id"], first["event_id"], "{room}: {id}/{part}");
            assert_eq!(rel["key"], key.as_str(), "{room}: {id}/{part}");
        }
    }
    assert_eq!(ours.len(), total, "{room}: unexpected extra events");
    total
}
