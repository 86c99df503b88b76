//! How a relayed message reads on Keybase: the author shown by `[keybase] sender_format`
//! (`**{name}** ({platform}): {text}`), and nothing in it that would notify a whole channel.

use bridge_core::Platform;

/// One piece of a parsed format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Name,
    Platform,
    Text,
}

/// A parsed `sender_format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderFormat {
    pieces: Vec<Piece>,
}

impl SenderFormat {
    /// Parses a format with `{name}`, `{platform}` and `{text}` (required); `{{` and `}}` are
    /// literal braces.
    ///
    /// # Errors
    /// An unknown `{placeholder}`, an unclosed `{`, or no `{text}`, in words for the
    /// `sender_format` key.
    pub fn parse(format: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if c == '{' {
                let Some(end) = rest.find('}') else {
                    return Err(format!(
                        "{format:?} has a `{{` that is not closed; use {{name}}, {{platform}}, {{text}}, or {{{{ for a brace"
                    ));
                };
                let piece = match &rest[1..end] {
                    "name" => Piece::Name,
                    "platform" => Piece::Platform,
                    "text" => Piece::Text,
                    other => {
                        return Err(format!(
                            "{format:?} has an unknown placeholder {{{other}}}; use {{name}}, {{platform}} and {{text}}"
                        ));
                    }
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                rest = &rest[end + 1..];
            } else {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if !pieces.contains(&Piece::Text) {
            return Err(format!(
                "{format:?} has no {{text}}: the message itself would not be shown"
            ));
        }
        Ok(Self { pieces })
    }

    /// The body for `text` by `name` from `platform`. Names and text never notify a whole
    /// channel (`@here`, `@channel`, `@everyone` are defused).
    pub fn render(&self, name: &str, platform: Platform, text: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Name => out.push_str(&defuse_mentions(name.trim())),
                Piece::Platform => out.push_str(platform_name(platform)),
                Piece::Text => out.push_str(&defuse_mentions(text)),
            }
        }
        out
    }
}

/// How a platform is named to people.
pub fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Keybase => "Keybase",
        Platform::Discord => "Discord",
        Platform::Matrix => "Matrix",
    }
}

/// The mentions that notify everyone in a Keybase channel.
const CHANNEL_MENTIONS: [&str; 3] = ["here", "channel", "everyone"];

/// `@here`, `@channel` and `@everyone` (any case) with a zero-width space after the `@`, so
/// Keybase shows them without notifying anyone. Other text is unchanged.
pub fn defuse_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let word_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = rest[..word_len].to_lowercase();
        if CHANNEL_MENTIONS.contains(&word.as_str()) {
            out.push('\u{200b}');
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_format_shows_name_and_platform() {
        let f = SenderFormat::parse(crate::config::DEFAULT_SENDER_FORMAT).unwrap();
        assert_eq!(
            f.render("alice", Platform::Matrix, "hi {name}"),
            "**alice** (Matrix): hi {name}"
        );
        let f = SenderFormat::parse("{{{platform}}} <{name}> {text}").unwrap();
        assert_eq!(f.render("bob", Platform::Discord, "x"), "{Discord} <bob> x");
    }

    #[test]
    fn bad_formats_say_why() {
        for (format, why) in [
            ("{name}: hi", "no {text}"),
            ("{nick}: {text}", "unknown placeholder {nick}"),
            ("{text", "not closed"),
        ] {
            let err = SenderFormat::parse(format).unwrap_err();
            assert!(err.contains(why), "{format}: {err}");
        }
    }

    #[test]
    fn channel_mentions_are_defused_in_text_and_names() {
        let f = SenderFormat::parse("{name}: {text}").unwrap();
        let body = f.render(
            "@Here\u{1b}",
            Platform::Matrix,
            "hey @everyone, @channel and @alice @heres",
        );
        assert_eq!(
            body,
            "@\u{200b}Here: hey @\u{200b}everyone, @\u{200b}channel and @alice @heres"
        );
    }
}
