//! Standard output of the commands' results (tables, reports, YAML, converted exports).
//!
//! Every command writes its stdout through here, never with `println!`: `println!` panics
//! (exit 101) when the reader has gone away, as in `kbbridge plan | head -1`. Here a closed
//! pipe ends the program quietly with exit code 0, as ripgrep and coreutils do: the reader
//! took what it wanted, so nothing failed. Any other write error (a full disk behind a
//! redirection) is returned to the command like any other error.
//!
//! Names in the output (chats, users, links, files, reasons given by a target) come from other
//! people and may hold control characters: `ESC[2J` would clear the reader's terminal, a
//! right-to-left override would make a name read backwards. [`escape_for_terminal`] shows them
//! as escapes (`\u{1b}`), and every table and report of the commands prints names through it
//! (or through [`Escaped`], which uses it). Log lines too: tracing-subscriber's text format
//! (0.3.23) escapes ESC, BEL, BS, FF, DEL and the C1 controls in the message and in errors
//! only, not in fields (`chat = %name` is written raw), so the text format takes its fields
//! from [`log_fields`]; the JSON format escapes every control character itself.

use std::{
    borrow::Cow,
    fmt::{self, Write as _},
    io::{self, Write},
};

use tracing_subscriber::{
    field::MakeExt,
    fmt::{FormatFields, format},
};

/// Standard output, locked while this value lives; a closed pipe ends the program quietly.
pub struct Stdout(io::StdoutLock<'static>);

/// Standard output for a command's results (see the module documentation).
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        exit_if_closed(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        exit_if_closed(self.0.flush())
    }
}

/// Ends the program with exit code 0 when `result` says the reader closed the pipe.
fn exit_if_closed<T>(result: io::Result<T>) -> io::Result<T> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

/// `print!` through [`stdout`]: an `io::Result<()>` to `?`, quiet on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(&mut $crate::output::stdout(), format_args!($($arg)*))
    };
}

/// `println!` through [`stdout`]: an `io::Result<()>` to `?`, quiet on a closed pipe.
macro_rules! outln {
    () => {
        $crate::output::out!("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::out!("{}\n", format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};

/// `text` with its control characters (C0, DEL, C1) and bidirectional-text controls written as
/// escapes (`\u{1b}`, `\n`, `\u{202e}`), so that printing it cannot drive the terminal.
/// Borrowed as is when there is nothing to escape.
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(drives_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if drives_terminal(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the invisible marks that reorder text (bidi embeddings, overrides
/// and isolates).
fn drives_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text log format's fields (`message key=value …`), each value through
/// [`escape_for_terminal`].
pub fn log_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(|w, field, value| {
        let mut text = String::new();
        write!(text, "{value:?}")?;
        let text = escape_for_terminal(&text);
        match field.name() {
            "message" => write!(w, "{text}"),
            name => write!(w, "{name}={text}"),
        }
    })
    .delimited(" ")
}

/// A value displayed through [`escape_for_terminal`], keeping the format's width and
/// alignment (`{:<22}`), for names in tables.
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&escape_for_terminal(&self.0.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_as_escapes() {
        assert_eq!(escape_for_terminal("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_for_terminal("x\ny\tz\r\u{7}"), "x\\ny\\tz\\r\\u{7}");
        assert_eq!(escape_for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(
            escape_for_terminal("abc\u{202e}fdp.exe"),
            "abc\\u{202e}fdp.exe"
        );
        assert_eq!(escape_for_terminal("\u{7f}"), "\\u{7f}");
    }

    #[test]
    fn printable_text_is_borrowed_unchanged() {
        for text in [
            "acme#general",
            "alice,bob",
            "ñandú 🎉",
            "quote \" and \\ backslash",
        ] {
            assert!(matches!(escape_for_terminal(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn escaped_names_keep_the_column_width() {
        assert_eq!(format!("[{:<8}]", Escaped("a\u{1b}")), "[a\\u{1b} ]");
        assert_eq!(format!("[{:>4}]", Escaped("ab")), "[  ab]");
    }
}
