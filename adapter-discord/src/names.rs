//! Names as Discord accepts them: webhook usernames, channel and category names.

use bridge_core::{ChatInfo, ChatKind};

/// The name of kbbridge's webhook in each channel (found by this name on re-runs).
pub const WEBHOOK_NAME: &str = "kbbridge";

/// A Keybase author name made valid as a webhook `username`: 1 to 80 characters, without
/// "discord" or "clyde" (any case), not "everyone" or "here", without `@`, `#`, `:` or "```".
pub fn webhook_username(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if matches!(c, '@' | '#' | ':' | '`') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    // "discord" → "disc_ord", "clyde" → "cly_de": readable, and no longer the word.
    for (word, cut) in [("discord", 4), ("clyde", 3)] {
        while let Some(i) = out.to_lowercase().find(word) {
            // Lowercasing may change byte lengths outside ASCII; fall back to a plain replace.
            if !out.is_char_boundary(i + cut) || out.len() != out.to_lowercase().len() {
                out = out
                    .to_lowercase()
                    .replace(word, &format!("{}_{}", &word[..cut], &word[cut..]));
                break;
            }
            out.insert(i + cut, '_');
        }
    }
    let trimmed = out.trim();
    let mut out: String = if trimmed.is_empty() {
        "unknown".into()
    } else {
        trimmed.to_owned()
    };
    if matches!(out.to_lowercase().as_str(), "everyone" | "here") {
        out.push_str(" (keybase)");
    }
    out.chars().take(80).collect()
}

/// A text channel name as Discord stores it: lowercase, words joined by `-`, letters, digits,
/// `-` and `_` only, 1 to 100 characters.
pub fn text_channel_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let out: String = out.trim_end_matches('-').chars().take(100).collect();
    if out.is_empty() {
        "channel".into()
    } else {
        out
    }
}

/// The category for a chat's groups: the Keybase team or subteam name (`acme.ops`); direct
/// conversations go in "Direct messages".
pub fn category_name(info: &ChatInfo) -> String {
    match info.kind {
        ChatKind::Direct { .. } => "Direct messages".into(),
        ChatKind::Channel if info.path.is_empty() => "Keybase".into(),
        ChatKind::Channel => info.path.join(".").chars().take(100).collect(),
    }
}

/// The channel name for a chat: its name, or for a conversation its members.
pub fn channel_name(info: &ChatInfo) -> String {
    match &info.kind {
        ChatKind::Direct { members } if !members.is_empty() => {
            let names: Vec<&str> = members.iter().map(|m| m.as_str()).collect();
            text_channel_name(&names.join("-"))
        }
        _ => text_channel_name(&info.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_discords_rules() {
        assert_eq!(webhook_username("carol_x"), "carol_x");
        assert_eq!(webhook_username("discordfan"), "disc_ordfan");
        assert_eq!(webhook_username("MrClyde"), "MrCly_de");
        assert_eq!(webhook_username("here"), "here (keybase)");
        assert_eq!(webhook_username("  "), "unknown");
        assert_eq!(webhook_username("a@b#c:d```"), "a_b_c_d___");
        assert_eq!(webhook_username(&"x".repeat(100)).chars().count(), 80);
    }

    #[test]
    fn channel_names_follow_discords_rules() {
        assert_eq!(text_channel_name("General Chat!"), "general-chat");
        assert_eq!(text_channel_name("alice, bob"), "alice-bob");
        assert_eq!(text_channel_name("Équipe"), "équipe");
        assert_eq!(text_channel_name("***"), "channel");
    }
}
