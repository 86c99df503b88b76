//! Keybase markdown → Matrix `org.matrix.custom.html`.
//!
//! Keybase's dialect: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ``` ```` fenced
//! blocks, `>` quote lines, `!>spoiler<!`, `\` escapes. Like Keybase, a marker opens only at a
//! word's start and closes only at a word's end, so `carol_x` and `2*3*4` stay as typed.
//!
//! Known `:shortcode:` emoji become the emoji (`emoji.rs`), outside code.
//!
//! The HTML is built, never copied: every character of the source goes through [`escape`], and
//! the only tags are the ones written here (`strong em del code pre blockquote br span a`), with
//! `href`s limited to `http(s)://` links and `https://matrix.to/#/` mention pills. No HTML from
//! the source ever passes.

use crate::emoji;

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `formatted_body` for Keybase markdown `text`, or `None` when it has no formatting (the
/// plain body says it all). `mention` gives the Matrix user ID a `@name` should pill to.
pub fn to_html(text: &str, mention: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let html = render(text, mention);
    (html != escape(&emoji::replace_shortcodes(text)).replace('\n', "<br>")).then_some(html)
}

/// Renders `text` to HTML, always.
pub fn render(text: &str, mention: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    for (i, segment) in fences(text).into_iter().enumerate() {
        match segment {
            Segment::Text(t) => {
                // The newline next to a fence belongs to the fence.
                let t = if i > 0 {
                    t.strip_prefix('\n').unwrap_or(t)
                } else {
                    t
                };
                let t = t.strip_suffix('\n').filter(|_| t.len() > 1).unwrap_or(t);
                render_lines(t, mention, &mut out);
            }
            Segment::Code(c) => {
                let c = c.strip_prefix('\n').unwrap_or(c);
                let c = c.strip_suffix('\n').unwrap_or(c);
                out.push_str("<pre><code>");
                out.push_str(&escape(c));
                out.push_str("</code></pre>");
            }
        }
    }
    out
}

enum Segment<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// Splits `text` at ```` ``` ```` fence pairs; an unpaired fence stays text.
fn fences(text: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let Some(close) = after.find("```") else {
            break;
        };
        if open > 0 {
            segments.push(Segment::Text(&rest[..open]));
        }
        segments.push(Segment::Code(&after[..close]));
        rest = &after[close + 3..];
    }
    if !rest.is_empty() || segments.is_empty() {
        segments.push(Segment::Text(rest));
    }
    segments
}

/// Renders lines, grouping runs of `>` lines into one blockquote.
fn render_lines(text: &str, mention: &dyn Fn(&str) -> Option<String>, out: &mut String) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        if i > 0 && !out.ends_with("</blockquote>") {
            out.push_str("<br>");
        }
        if lines[i].starts_with('>') {
            out.push_str("<blockquote>");
            let mut first = true;
            while i < lines.len() && lines[i].starts_with('>') {
                if !first {
                    out.push_str("<br>");
                }
                first = false;
                let line = &lines[i][1..];
                inline(&chars(line.strip_prefix(' ').unwrap_or(line)), mention, out);
                i += 1;
            }
            out.push_str("</blockquote>");
        } else {
            inline(&chars(lines[i]), mention, out);
            i += 1;
        }
    }
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Characters a `\` makes literal.
const ESCAPABLE: &[char] = &['*', '_', '~', '`', '>', '<', '!', '\\', '@'];

/// Whether `c` may stand just before an opening marker or after a closing one.
fn is_boundary(c: Option<&char>) -> bool {
    c.is_none_or(|c| !c.is_alphanumeric())
}

/// Renders one line's inline markup.
fn inline(s: &[char], mention: &dyn Fn(&str) -> Option<String>, out: &mut String) {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let prev = i.checked_sub(1).map(|p| &s[p]);
        match c {
            '\\' if s.get(i + 1).is_some_and(|n| ESCAPABLE.contains(n)) => {
                out.push_str(&escape(&s[i + 1].to_string()));
                i += 2;
                continue;
            }
            '`' => {
                if let Some(end) = find(s, i + 1, |j| s[j] == '`').filter(|&e| e > i + 1) {
                    out.push_str("<code>");
                    out.push_str(&escape(&s[i + 1..end].iter().collect::<String>()));
                    out.push_str("</code>");
                    i = end + 1;
                    continue;
                }
            }
            '!' if s.get(i + 1) == Some(&'>') => {
                let close = find(s, i + 2, |j| s[j] == '<' && s.get(j + 1) == Some(&'!'));
                if let Some(end) = close.filter(|&e| e > i + 2) {
                    out.push_str("<span data-mx-spoiler>");
                    inline(&s[i + 2..end], mention, out);
                    out.push_str("</span>");
                    i = end + 2;
                    continue;
                }
            }
            '*' | '_' | '~' if is_boundary(prev) => {
                if let Some(end) = closing(s, i, c) {
                    let tag = match c {
                        '*' => "strong",
                        '_' => "em",
                        _ => "del",
                    };
                    out.push_str(&format!("<{tag}>"));
                    inline(&s[i + 1..end], mention, out);
                    out.push_str(&format!("</{tag}>"));
                    i = end + 1;
                    continue;
                }
            }
            'h' if is_boundary(prev) => {
                if let Some(end) = url_end(s, i) {
                    let url = escape(&s[i..end].iter().collect::<String>());
                    out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
                    i = end;
                    continue;
                }
            }
            ':' => {
                if let Some((len, emoji)) = emoji::shortcode_at(&s[i..]) {
                    out.push_str(emoji);
                    i += len;
                    continue;
                }
            }
            '@' if is_boundary(prev) => {
                let end = find(s, i + 1, |j| !is_name_char(s[j])).unwrap_or(s.len());
                let name: String = s[i + 1..end].iter().collect();
                if (2..=16).contains(&name.len()) && is_boundary(s.get(end)) {
                    if let Some(user) = mention(&name) {
                        let (user, name) = (escape(&user), escape(&name));
                        out.push_str(&format!(
                            "<a href=\"https://matrix.to/#/{user}\">@{name}</a>"
                        ));
                        i = end;
                        continue;
                    }
                }
            }
            _ => {}
        }
        out.push_str(&escape(&c.to_string()));
        i += 1;
    }
}

/// The first index from `from` where `pred` holds.
fn find(s: &[char], from: usize, pred: impl Fn(usize) -> bool) -> Option<usize> {
    (from..s.len()).find(|&j| pred(j))
}

/// Where the marker `m` opened at `open` closes: a later `m` after a non-space character, at a
/// word's end. The content must not start with a space.
fn closing(s: &[char], open: usize, m: char) -> Option<usize> {
    let first = s.get(open + 1)?;
    if first.is_whitespace() || *first == m {
        return None;
    }
    find(s, open + 2, |j| {
        s[j] == m && !s[j - 1].is_whitespace() && is_boundary(s.get(j + 1))
    })
}

/// The end of an `http://` or `https://` link starting at `i`, without trailing punctuation.
fn url_end(s: &[char], i: usize) -> Option<usize> {
    let rest: String = s[i..s.len().min(i + 8)].iter().collect();
    let scheme = if rest.starts_with("https://") {
        8
    } else if rest.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut end = find(s, i + scheme, |j| s[j].is_whitespace() || s[j] == '<').unwrap_or(s.len());
    while end > i + scheme
        && matches!(
            s[end - 1],
            '.' | ',' | '!' | '?' | ';' | ':' | ')' | '\'' | '"'
        )
    {
        end -= 1;
    }
    (end > i + scheme).then_some(end)
}

/// Keybase user names are `a-z 0-9 _`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_mentions(_: &str) -> Option<String> {
        None
    }

    fn html(text: &str) -> String {
        render(text, &no_mentions)
    }

    #[test]
    fn keybase_markup_becomes_html() {
        assert_eq!(
            html("*bold*, _italic_, ~strike~ and `code`"),
            "<strong>bold</strong>, <em>italic</em>, <del>strike</del> and <code>code</code>"
        );
        assert_eq!(html("*_both_*"), "<strong><em>both</em></strong>");
        assert_eq!(
            html("!>the cake is a lie<!"),
            "<span data-mx-spoiler>the cake is a lie</span>"
        );
        assert_eq!(html("a\nb"), "a<br>b");
    }

    #[test]
    fn markers_inside_words_stay_literal() {
        for s in [
            "carol_x and emile_b",
            "2*3*4",
            "snake_case_name",
            "* not a list",
            "a ~ b ~ c",
        ] {
            assert_eq!(to_html(s, &no_mentions), None, "{s}");
        }
        assert_eq!(html(r"\*not bold\*"), "*not bold*");
        assert_eq!(
            html("`_x_` *`y`*"),
            "<code>_x_</code> <strong><code>y</code></strong>"
        );
    }

    #[test]
    fn fenced_blocks_and_quotes() {
        assert_eq!(
            html("look:\n```\nfn main() {\n    *x* < 1\n}\n```\nok"),
            "look:<pre><code>fn main() {\n    *x* &lt; 1\n}</code></pre>ok"
        );
        assert_eq!(html("```inline```"), "<pre><code>inline</code></pre>");
        assert_eq!(html("```unclosed"), "```unclosed");
        assert_eq!(
            html("> quoted *bold*\n>second\nreply"),
            "<blockquote>quoted <strong>bold</strong><br>second</blockquote>reply"
        );
    }

    #[test]
    fn links_and_mentions() {
        assert_eq!(
            html("see https://wiki.acme.example/_start_. ok"),
            "see <a href=\"https://wiki.acme.example/_start_\">https://wiki.acme.example/_start_</a>. ok"
        );
        let pill = |name: &str| (name == "dave").then(|| "@kb_dave:localhost".to_owned());
        assert_eq!(
            render("_staging_ next to @dave and @everyone", &pill),
            "<em>staging</em> next to <a href=\"https://matrix.to/#/@kb_dave:localhost\">@dave</a> and @everyone"
        );
        assert_eq!(render("mail a@dave.example", &pill), "mail a@dave.example");
    }

    #[test]
    fn no_source_html_ever_passes() {
        let evil = "<script>alert(1)</script> <a href=\"javascript:x\">*y*</a> &amp; \
                    https://x.example/\"onmouseover=\"alert(1) `<b>` ```<img src=x>```";
        let out = html(evil);
        assert!(
            !out.contains("<script") && !out.contains("<img") && !out.contains("<b>"),
            "{out}"
        );
        assert!(!out.contains("href=\"javascript"), "{out}");
        assert!(
            out.contains("&lt;script&gt;") && out.contains("&amp;amp;"),
            "{out}"
        );
        // Every tag in the output is one this module writes.
        let allowed = [
            "strong",
            "em",
            "del",
            "code",
            "pre",
            "blockquote",
            "br",
            "span",
            "a",
        ];
        for tag in out.split('<').skip(1) {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(allowed.contains(&name.as_str()), "{name} in {out}");
        }
        // And no attribute value can be closed early: quotes inside are escaped.
        assert!(!out.contains("\"onmouseover"), "{out}");
    }

    #[test]
    fn plain_text_needs_no_formatted_body() {
        assert_eq!(to_html("just words, 100% <plain>", &no_mentions), None);
        assert_eq!(to_html("two\nlines", &no_mentions), None);
        assert!(to_html("*x*", &no_mentions).is_some());
        assert_eq!(
            to_html("hi :wave:", &no_mentions),
            None,
            "the body has the emoji too"
        );
        assert_eq!(html("hi :wave: `:wave:`"), "hi 👋 <code>:wave:</code>");
    }
}
