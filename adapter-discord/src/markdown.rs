//! Keybase markdown → Discord markdown.
//!
//! | Keybase | Discord |
//! |---|---|
//! | `*bold*` | `**bold**` |
//! | `_italic_` | `_italic_` (same) |
//! | `~strike~` | `~~strike~~` |
//! | `` `code` ``, ```` ``` ```` blocks, `> quote` | same |
//! | `!>spoiler<!` | `\|\|spoiler\|\|` |
//!
//! Code spans and blocks are copied verbatim. Discord-only markup that Keybase shows literally
//! (a line starting with `#`, `-#`) is escaped. Plain text has every markup character escaped.

use bridge_core::Syntax;

/// `text`, written in `syntax`, as Discord markdown.
pub fn to_discord(text: &str, syntax: &Syntax) -> String {
    match syntax {
        Syntax::Discord => text.to_owned(),
        Syntax::Keybase => keybase(text),
        // Matrix's `text` is the plain body.
        Syntax::Plain | Syntax::MatrixHtml(_) => escape(text),
    }
}

/// Escapes everything Discord would read as markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in split_lines(text) {
        let body = line.trim_start();
        if body.starts_with('#') || body.starts_with("-#") || body.starts_with('>') {
            out.push('\\');
        }
        for c in line.chars() {
            if matches!(c, '*' | '_' | '~' | '`' | '|' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Lines with their `\n`.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
}

fn keybase(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut fenced = false;
    for line in split_lines(text) {
        if line.trim_start().starts_with("```") {
            let n = line.matches("```").count();
            out.push_str(line);
            if n % 2 == 1 {
                fenced = !fenced;
            }
            continue;
        }
        if fenced {
            out.push_str(line);
            continue;
        }
        let body = line.trim_start();
        if body.starts_with('#') || body.starts_with("-#") {
            out.push('\\');
        }
        inline(line, &mut out);
    }
    out
}

/// Converts one line's inline markup.
fn inline(line: &str, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                out.push(c);
                out.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                // A code span: copied to its closing backtick, or the backtick alone.
                match chars[i + 1..].iter().position(|d| *d == '`') {
                    Some(len) => {
                        out.extend(&chars[i..i + len + 2]);
                        i += len + 2;
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '*' | '~' => match closing(&chars, i, c) {
                Some(end) => {
                    let mark = if c == '*' { "**" } else { "~~" };
                    out.push_str(mark);
                    let mut inner = String::new();
                    inline(&chars[i + 1..end].iter().collect::<String>(), &mut inner);
                    out.push_str(&inner);
                    out.push_str(mark);
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '!' if chars.get(i + 1) == Some(&'>') => {
                let start = i + 2;
                let end = (start..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '<' && chars[j + 1] == '!');
                match end {
                    Some(end) if end > start => {
                        out.push_str("||");
                        out.extend(&chars[start..end]);
                        out.push_str("||");
                        i = end + 2;
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// The index of the `mark` closing the one at `open`: the opening one is followed by a
/// non-space and not preceded by a word character; the closing one is preceded by a non-space.
fn closing(chars: &[char], open: usize, mark: char) -> Option<usize> {
    if open > 0 && chars[open - 1].is_alphanumeric() {
        return None;
    }
    let next = *chars.get(open + 1)?;
    if next.is_whitespace() || next == mark {
        return None;
    }
    (open + 2..chars.len()).find(|&j| {
        chars[j] == mark
            && !chars[j - 1].is_whitespace()
            && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(s: &str) -> String {
        to_discord(s, &Syntax::Keybase)
    }

    #[test]
    fn keybase_markup_becomes_discord_markup() {
        assert_eq!(
            kb("*bold* _italic_ ~strike~ `code`"),
            "**bold** _italic_ ~~strike~~ `code`"
        );
        assert_eq!(kb("the ~old~ *new* wiki"), "the ~~old~~ **new** wiki");
        assert_eq!(kb("!>the cake is a lie<!"), "||the cake is a lie||");
        assert_eq!(kb("> quoted"), "> quoted");
        assert_eq!(kb("`*not bold*`"), "`*not bold*`");
        assert_eq!(kb("\\*not bold\\*"), "\\*not bold\\*");
        assert_eq!(kb("2 * 3 * 4"), "2 * 3 * 4");
        assert_eq!(kb("a*b*c"), "a*b*c");
    }

    #[test]
    fn code_blocks_are_verbatim() {
        let text = "```\nfn main() { *x* }\n```\nafter *this*";
        assert_eq!(kb(text), "```\nfn main() { *x* }\n```\nafter **this**");
    }

    #[test]
    fn discord_only_markup_is_escaped() {
        assert_eq!(kb("# not a heading"), "\\# not a heading");
        assert_eq!(
            to_discord("*x* _y_ # z", &Syntax::Plain),
            "\\*x\\* \\_y\\_ # z"
        );
        assert_eq!(to_discord("# z", &Syntax::Plain), "\\# z");
    }
}
