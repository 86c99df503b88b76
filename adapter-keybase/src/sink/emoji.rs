//! Reactions as Keybase writes them: `:shortcode:` (keybase.md §2.6). Matrix and Discord send
//! the emoji itself.

/// `👍` → `:+1:`; a `:shortcode:` (or an emoji without one) is kept as it is.
pub fn keybase_reaction(emoji: &str) -> String {
    let trimmed = emoji.trim();
    if trimmed.len() > 2 && trimmed.starts_with(':') && trimmed.ends_with(':') {
        return trimmed.to_owned();
    }
    let found = emojis::get(trimmed).or_else(|| emojis::get(&trimmed.replace('\u{fe0f}', "")));
    match found.and_then(|e| e.shortcode()) {
        Some(code) => format!(":{code}:"),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_emoji_become_shortcodes() {
        assert_eq!(keybase_reaction("👍"), ":+1:");
        assert_eq!(keybase_reaction("🎉"), ":tada:");
        assert_eq!(keybase_reaction(":tada:"), ":tada:");
        assert_eq!(keybase_reaction("not an emoji"), "not an emoji");
    }
}
