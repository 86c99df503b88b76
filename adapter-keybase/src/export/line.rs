//! One keybase-export line: its serde shape, and what the reader makes of it.
//!
//! keybase-export writes one `CleanedMessage` plus `channel_name` per line (keys absent when
//! undefined). Across versions: `sent_at_ms` appeared in 2020, `reactions`, `system`,
//! `special`, headline lines and `team#channel` names in 2022-07, `attachment.filename` with
//! attachment download in 2023 (before, `attachment` only had the server `path`), `edited` from
//! the watcher in 2026. Unknown keys are ignored; core keys of the wrong type make the line
//! unreadable (a reject), loose ones (`reactions`, `attachment`) are looked at leniently later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, de::IgnoredAny};

use super::{node::Node, rejects::RejectReason, stats::SkipReason};

/// The line as keybase-export writes it.
#[derive(Debug, Deserialize)]
struct ExportLine {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    reactions: Option<Node>,
    #[serde(default)]
    reply_to: Option<u64>,
    #[serde(default)]
    attachment: Option<Node>,
    #[serde(default)]
    sent_at: Option<i64>,
    #[serde(default)]
    sent_at_ms: Option<i64>,
    #[serde(default)]
    edited: Option<bool>,
    #[serde(default)]
    sender_username: Option<String>,
    #[serde(default)]
    sender_uid: Option<String>,
    #[serde(default)]
    system: Option<bool>,
    #[serde(default)]
    special: Option<bool>,
    #[serde(default)]
    channel_name: Option<String>,
    /// Raw `keybase chat api` markers: such an object is not a keybase-export record.
    #[serde(default)]
    msg: Option<IgnoredAny>,
    #[serde(default)]
    result: Option<IgnoredAny>,
}

/// What kind of notice a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoticeKind {
    /// `system: true`: generated text (`alice added dave to the team acme`), plain.
    System,
    /// A headline or other `special` line: may hold user-written Keybase markup.
    Headline,
}

/// A line understood as a message.
#[derive(Debug)]
pub(crate) struct Record {
    /// The message id (per conversation).
    pub id: u64,
    /// `channel_name` as written (attachments live under it).
    pub channel: String,
    /// The chat it belongs to: `channel`, or `<team>#general` for a legacy team-only name.
    pub chat: String,
    /// Whether `channel` was a legacy team-only name.
    pub legacy: bool,
    /// Set for system and headline lines.
    pub notice: Option<NoticeKind>,
    /// The sender's username (or uid when the export has no username).
    pub sender: String,
    /// The sender's uid, when the export has it (keybase-binding names attachments by it).
    pub sender_uid: Option<String>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The text (already edited); for notices, without the export's surrounding brackets.
    pub text: String,
    /// The id of the message replied to.
    pub reply_to: Option<u64>,
    /// Whether it was edited.
    pub edited: bool,
    /// The `attachment` object, unchecked.
    pub attachment: Option<Node>,
    /// The `reactions` object, unchecked.
    pub reactions: Option<Node>,
    /// Whether reaction keys are the emoji as sent (raw API dumps), not camel-cased.
    pub exact_keys: bool,
}

/// What a line is.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A message to replay.
    Record(Box<Record>),
    /// Understood, not replayed.
    Skip(SkipReason),
    /// Not readable.
    Reject {
        /// Why.
        reason: RejectReason,
        /// Details.
        detail: String,
        /// The chat and id, where known.
        at: Option<(String, u64)>,
    },
}

fn reject(reason: RejectReason, detail: impl Into<String>) -> Parsed {
    Parsed::Reject {
        reason,
        detail: detail.into(),
        at: None,
    }
}

/// Whether `bytes` (a line without its end of line) holds nothing.
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Reads one line (without its `\n`/`\r\n`). System and headline lines are records with a
/// [`Record::notice`]; whether they are replayed is the scan's decision.
/// are messages or skips.
pub(crate) fn parse_line(bytes: &[u8]) -> Parsed {
    if is_blank(bytes) {
        return Parsed::Skip(SkipReason::Blank);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let detail = format!("invalid UTF-8 at byte {}", e.valid_up_to());
            return reject(RejectReason::InvalidUtf8, detail);
        }
    };
    let line: ExportLine = match serde_json::from_str(text) {
        Ok(line) => line,
        Err(e) if e.is_data() => return reject(RejectReason::UnknownShape, e.to_string()),
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    classify(line)
}

fn classify(line: ExportLine) -> Parsed {
    let Some(channel) = line.channel_name.filter(|c| !c.is_empty()) else {
        if line.msg.is_some() || line.result.is_some() {
            return reject(
                RejectReason::UnknownShape,
                "a raw `keybase chat api` object, not a keybase-export line",
            );
        }
        return reject(RejectReason::MissingChannel, "no channel_name");
    };
    let Some(id) = line.id.filter(|&id| id > 0) else {
        let detail = if line.id == Some(0) {
            "message id 0"
        } else {
            "no message id"
        };
        return reject(RejectReason::MissingId, detail);
    };
    let fail = |reason, detail: &str| Parsed::Reject {
        reason,
        detail: detail.to_owned(),
        at: Some((channel.clone(), id)),
    };
    if line.text.is_none() && line.attachment.is_none() {
        return Parsed::Skip(SkipReason::NoText);
    }
    let special = line.special == Some(true);
    let mut text = line.text.unwrap_or_default();
    if special && is_reaction_line(&text) {
        return Parsed::Skip(SkipReason::ReactionLine);
    }
    let notice = match (line.system == Some(true), special) {
        (true, _) => Some(NoticeKind::System),
        (false, true) => Some(NoticeKind::Headline),
        (false, false) => None,
    };
    if notice.is_some() {
        text = unbracket(text);
    }
    let sender_uid = line.sender_uid.clone().filter(|u| !u.is_empty());
    let Some(sender) = sender_name(line.sender_username, line.sender_uid) else {
        return fail(
            RejectReason::MissingSender,
            "no sender_username or sender_uid",
        );
    };
    let sent_at = match sent_time(line.sent_at_ms, line.sent_at) {
        Ok(t) => t,
        Err(detail) => return fail(RejectReason::MissingTime, detail),
    };
    let (chat, legacy) = chat_name(&channel);
    Parsed::Record(Box::new(Record {
        id,
        chat,
        legacy,
        channel,
        notice,
        sender,
        sender_uid,
        sent_at,
        text,
        reply_to: line.reply_to.filter(|&r| r > 0),
        edited: line.edited == Some(true),
        attachment: line.attachment,
        reactions: line.reactions,
        exact_keys: false,
    }))
}

/// The sender's name: the username, or the uid when there is no username.
pub(crate) fn sender_name(username: Option<String>, uid: Option<String>) -> Option<String> {
    username
        .filter(|n| !n.is_empty())
        .or(uid.filter(|u| !u.is_empty()))
}

/// The send time: `sent_at_ms`, or `sent_at` in seconds.
pub(crate) fn sent_time(ms: Option<i64>, secs: Option<i64>) -> Result<DateTime<Utc>, &'static str> {
    let ms = ms.or_else(|| secs.and_then(|s| s.checked_mul(1000)));
    match ms {
        Some(ms) => DateTime::from_timestamp_millis(ms).ok_or("time out of range"),
        None => Err("no sent_at_ms or sent_at"),
    }
}

/// `[Reaction ':tada:' to msg id 42]`.
fn is_reaction_line(text: &str) -> bool {
    text.starts_with("[Reaction '") && text.ends_with(']') && text.contains("' to msg id ")
}

/// `[alice added dave to the team acme]` → `alice added dave to the team acme`.
pub(crate) fn unbracket(text: String) -> String {
    match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => inner.to_owned(),
        None => text,
    }
}

/// The chat a `channel_name` belongs to. Before 2022-07 keybase-export wrote only the team name
/// for team channels (`acme`); such a name (no `#`, no `,`) is read as the team's `general`
/// channel, where Keybase puts a small team's messages. (A conversation with only yourself is
/// also named without a comma; in a legacy export it is indistinguishable and read the same.)
pub(crate) fn chat_name(channel: &str) -> (String, bool) {
    if channel.contains('#') || channel.contains(',') {
        (channel.to_owned(), false)
    } else {
        (format!("{channel}#general"), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: &str) -> Record {
        match parse_line(line.as_bytes()) {
            Parsed::Record(r) => *r,
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_line() {
        let r = record(
            r#"{"text":"hi","id":42,"reply_to":40,"sent_at":1600000000,"sent_at_ms":1600000000123,"edited":true,"sender_username":"bob","sender_uid":"u","channel_name":"acme#general"}"#,
        );
        assert_eq!(
            (r.id, r.reply_to, r.edited, r.legacy),
            (42, Some(40), true, false)
        );
        assert_eq!(r.sent_at.timestamp_millis(), 1_600_000_000_123);
        assert_eq!(
            (r.sender.as_str(), r.chat.as_str()),
            ("bob", "acme#general")
        );
    }

    #[test]
    fn falls_back_to_seconds_and_legacy_names() {
        let r =
            record(r#"{"text":"x","id":1,"sent_at":10,"sender_uid":"u1","channel_name":"acme"}"#);
        assert_eq!(r.sent_at.timestamp_millis(), 10_000);
        assert_eq!(
            (r.chat.as_str(), r.legacy, r.sender.as_str()),
            ("acme#general", true, "u1")
        );
    }

    #[test]
    fn classifies_skips_and_rejects() {
        let skip = |l: &str| match parse_line(l.as_bytes()) {
            Parsed::Skip(s) => Some(s),
            _ => None,
        };
        let base = r#""id":3,"sent_at":1,"sender_username":"a","channel_name":"t#c""#;
        assert_eq!(skip(&format!("{{{base}}}")), Some(SkipReason::NoText));
        let reaction =
            format!(r#"{{"text":"[Reaction ':+1:' to msg id 2]","special":true,{base}}}"#);
        assert_eq!(skip(&reaction), Some(SkipReason::ReactionLine));
        let system = format!(r#"{{"text":"[a added b]","system":true,"special":true,{base}}}"#);
        assert_eq!(record(&system).text, "a added b");
        assert_eq!(record(&system).notice, Some(NoticeKind::System));
        let why = |l: &str| match parse_line(l.as_bytes()) {
            Parsed::Reject { reason, .. } => Some(reason),
            _ => None,
        };
        assert_eq!(why(r#"{"text":"x""#), Some(RejectReason::Malformed));
        assert_eq!(why("[1,2]"), Some(RejectReason::UnknownShape));
        assert_eq!(
            why(r#"{"text":"x","id":"7","channel_name":"a,b"}"#),
            Some(RejectReason::UnknownShape)
        );
        assert_eq!(
            why(r#"{"text":"x","channel_name":"a,b"}"#),
            Some(RejectReason::MissingId)
        );
        assert_eq!(
            why(r#"{"text":"x","id":1,"channel_name":"a,b"}"#),
            Some(RejectReason::MissingSender)
        );
        assert_eq!(why(r#"{"msg":{"id":1}}"#), Some(RejectReason::UnknownShape));
        assert!(matches!(
            parse_line(b"{\"text\":\"\xff\"}"),
            Parsed::Reject {
                reason: RejectReason::InvalidUtf8,
                ..
            }
        ));
    }
}
