//! Keybase's `:shortcode:` emoji → the emoji themselves.
//!
//! Keybase stores reactions and writes text emoji as shortcodes (`:tada:`, `:+1:`), and old
//! exports mangle reaction keys into camel case (`heartEyes`). Matrix clients group reactions
//! by their exact key and show text as written, so both are turned into Unicode emoji where the
//! shortcode is known (GitHub's gemoji names, which Keybase's mostly are); unknown ones stay as
//! `:name:`.

/// The emoji for the shortcode `name` (without colons).
pub fn from_shortcode(name: &str) -> Option<&'static str> {
    emojis::get_by_shortcode(name).map(emojis::Emoji::as_str)
}

/// The key a reaction is sent with: the emoji for a known shortcode (or mangled name, where the
/// source lost the real emoji), else the source's key, as `:name:` when it is a bare name.
pub fn reaction_key(emoji: &str, exact: bool) -> String {
    let name = emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':'));
    if let Some(found) = name.and_then(from_shortcode) {
        return found.to_owned();
    }
    if exact || name.is_some() || !emoji.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return emoji.to_owned();
    }
    let snake = camel_to_snake(emoji);
    match from_shortcode(emoji).or_else(|| from_shortcode(&snake)) {
        Some(found) => found.to_owned(),
        None => format!(":{emoji}:"),
    }
}

/// `heartEyes` → `heart_eyes`.
fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` may be part of a shortcode name.
pub fn is_shortcode_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '+' | '-')
}

/// The length (in chars, colons included) and emoji of a known `:shortcode:` at the start of
/// `s`.
pub fn shortcode_at(s: &[char]) -> Option<(usize, &'static str)> {
    if s.first() != Some(&':') {
        return None;
    }
    let len = s
        .iter()
        .skip(1)
        .take(50)
        .position(|&c| !is_shortcode_char(c))?;
    if len == 0 || s.get(len + 1) != Some(&':') {
        return None;
    }
    let name: String = s[1..=len].iter().collect();
    from_shortcode(&name).map(|e| (len + 2, e))
}

/// `text` with its known shortcodes replaced, except inside `` ` `` code.
pub fn replace_shortcodes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '`' {
            in_code = !in_code;
        } else if !in_code {
            if let Some((len, emoji)) = shortcode_at(&chars[i..]) {
                out.push_str(emoji);
                i += len;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_become_emoji() {
        assert_eq!(reaction_key(":tada:", true), "🎉");
        assert_eq!(reaction_key(":+1:", true), "👍");
        assert_eq!(reaction_key(":heart_eyes:", true), "😍");
        assert_eq!(reaction_key("🎉", true), "🎉");
        assert_eq!(reaction_key(":no_such_emoji:", true), ":no_such_emoji:");
        // Mangled keys of old exports.
        assert_eq!(reaction_key("joy", false), "😂");
        assert_eq!(reaction_key("heartEyes", false), "😍");
        assert_eq!(reaction_key("qwertyz", false), ":qwertyz:");
    }

    #[test]
    fn text_shortcodes_outside_code() {
        assert_eq!(
            replace_shortcodes("Hi all :wave: `:wave:` :nope: 10:30:00"),
            "Hi all 👋 `:wave:` :nope: 10:30:00"
        );
        assert_eq!(replace_shortcodes(":+1::+1:"), "👍👍");
    }
}
