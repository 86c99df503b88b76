//! Matrix localparts made from Keybase names: ghost users and room aliases.
//!
//! Matrix localparts allow only `a-z 0-9 . _ = - /`. Names are mapped with a reversible escape
//! in the spirit of the spec's "mapping from other character sets": allowed characters stay,
//! everything else (and `=` itself) becomes `=xx` for each byte of its UTF-8 form. So `carol_x`
//! stays `carol_x`, `émile` becomes `=c3=a9mile`, and no two names share a localpart.

use bridge_core::{ChatInfo, ChatKind};

/// Escapes `s`, keeping the characters `keep` allows (never `=`), as `=xx` bytes otherwise.
fn escape_with(s: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != '=' && keep(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("={b:02x}"));
            }
        }
    }
    out
}

/// Escapes a user name: `a-z 0-9 . _ -` stay.
pub fn escape(s: &str) -> String {
    escape_with(s, |c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
}

/// Escapes one segment of a team path: like [`escape`], but `.` and `-` are escaped too, as they
/// separate segments and the channel in aliases.
fn escape_segment(s: &str) -> String {
    escape_with(s, |c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Reverses [`escape`] (and the segment escape). `None` if `s` is not an escaped name.
pub fn unescape(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if hex.bytes().any(|h| h.is_ascii_uppercase()) {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The localpart of the ghost of the Keybase user `username`: `prefix` + the escaped name.
pub fn ghost(prefix: &str, username: &str) -> String {
    format!("{prefix}{}", escape(username))
}

/// The Keybase user name behind a ghost localpart, if it is one of ours.
pub fn ghost_username(prefix: &str, localpart: &str) -> Option<String> {
    unescape(localpart.strip_prefix(prefix)?)
}

/// The alias localpart of the space of the team `path` (`["acme", "ops"]` → `kb_acme.ops`).
pub fn space_alias(prefix: &str, path: &[String]) -> String {
    let segments: Vec<String> = path.iter().map(|s| escape_segment(s)).collect();
    format!("{prefix}{}", segments.join("."))
}

/// The alias localpart of the room for `info`: `kb_acme-general` for a team channel; for a
/// direct conversation or a chat outside any team, the escaped chat ID after `kb_-`
/// (`kb_-alice=2cbob`). The team part never holds a raw `-`, so the first `-` separates.
pub fn room_alias(prefix: &str, info: &ChatInfo) -> String {
    match info.kind {
        ChatKind::Channel if !info.path.is_empty() => {
            format!("{}-{}", space_alias(prefix, &info.path), escape(&info.name))
        }
        _ => format!("{prefix}-{}", escape(info.chat.chat.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use bridge_core::{ChatRef, Platform, UserId};

    use super::*;

    #[test]
    fn user_names_stay_distinct_and_reversible() {
        let names = [
            "carol_x", "émile", "emile", "Émile", "a=b", "a=3db", "dave.b", "x-y", "日本",
        ];
        let mapped: Vec<String> = names.iter().map(|n| ghost("kb_", n)).collect();
        for (i, a) in mapped.iter().enumerate() {
            for b in &mapped[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(ghost("kb_", "carol_x"), "kb_carol_x");
        assert_eq!(ghost("kb_", "émile"), "kb_=c3=a9mile");
        for (n, m) in names.iter().zip(&mapped) {
            assert!(
                m.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-')),
                "{m}"
            );
            assert_eq!(ghost_username("kb_", m).as_deref(), Some(*n));
        }
        assert_eq!(ghost_username("kb_", "other_x"), None);
        assert_eq!(unescape("=zz"), None);
        assert_eq!(unescape("=c3"), None, "half a UTF-8 character");
    }

    fn info(chat: &str, name: &str, path: &[&str], kind: ChatKind) -> ChatInfo {
        ChatInfo {
            chat: ChatRef::new(Platform::Keybase, chat),
            name: name.into(),
            topic: None,
            path: path.iter().map(|s| s.to_string()).collect(),
            kind,
        }
    }

    #[test]
    fn aliases_follow_teams_and_channels() {
        let general = info("acme#general", "general", &["acme"], ChatKind::Channel);
        let alerts = info(
            "acme.ops#alerts",
            "alerts",
            &["acme", "ops"],
            ChatKind::Channel,
        );
        let dm = info(
            "alice,bob",
            "alice, bob",
            &[],
            ChatKind::Direct {
                members: vec![UserId::new("alice"), UserId::new("bob")],
            },
        );
        assert_eq!(room_alias("kb_", &general), "kb_acme-general");
        assert_eq!(room_alias("kb_", &alerts), "kb_acme.ops-alerts");
        assert_eq!(room_alias("kb_", &dm), "kb_-alice=2cbob");
        assert_eq!(space_alias("kb_", &general.path), "kb_acme");
        assert_eq!(space_alias("kb_", &alerts.path), "kb_acme.ops");
        // A `-` or `.` inside a team name cannot fake another team's channel.
        let tricky = info("a-b#c", "c", &["a-b"], ChatKind::Channel);
        let plain = info("a#b-c", "b-c", &["a"], ChatKind::Channel);
        assert_ne!(room_alias("kb_", &tricky), room_alias("kb_", &plain));
        assert_ne!(
            space_alias("kb_", &["a.b".into()]),
            space_alias("kb_", &["a".into(), "b".into()])
        );
        // Without a team (the default chat info), the chat ID names the room.
        let bare = info("acme#general", "acme#general", &[], ChatKind::Channel);
        assert_eq!(room_alias("kb_", &bare), "kb_-acme=23general");
    }
}
