//! JSON written the way Go's `encoding/json` writes it (keybase.md §1.4): compact, fields in
//! declaration order (our structs declare them in Go's order), and `<`, `>`, `&`, U+2028 and
//! U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Wraps a formatter to add Go's HTML escaping to string contents.
struct Go<F>(F);

macro_rules! delegate {
    ($($name:ident),* $(,)?) => {
        $(fn $name<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.$name(w)
        })*
    };
    (first: $($name:ident),* $(,)?) => {
        $(fn $name<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
            self.0.$name(w, first)
        })*
    };
}

impl<F: Formatter> Formatter for Go<F> {
    delegate!(
        begin_array,
        end_array,
        end_array_value,
        begin_object,
        end_object,
        end_object_key,
        begin_object_value,
        end_object_value,
    );
    delegate!(first: begin_array_value, begin_object_key);

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&s.as_bytes()[start..i])?;
            w.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&s.as_bytes()[start..])
    }
}

/// `value` as one compact line (no newline), as `json.NewEncoder(w).Encode` writes it.
pub fn line<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Go(CompactFormatter));
    // Serializing our own plain structs into memory cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// `value` indented by four spaces, as `-p` and the `-j` commands print it.
pub fn pretty<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = Go(PrettyFormatter::with_indent(b"    "));
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = value.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// Re-indents one compact JSON line by four spaces (for `-p`), keeping key order.
pub fn reindent(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let (mut depth, mut in_string, mut escape) = (0usize, false, false);
    let mut chars = line.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("    ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escape, c) {
                (true, _) => escape = false,
                (false, '\\') => escape = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"body": "a<b>&c\u{2028}é\"", "n": [1, null]});
        assert_eq!(
            line(&v),
            r#"{"body":"a\u003cb\u003e\u0026c\u2028é\"","n":[1,null]}"#
        );
        assert!(pretty(&v).contains("\n    \"body\""));
    }
}
