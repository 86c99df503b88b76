//! A message → the parts Discord receives, and the text of each.
//!
//! The number of parts depends on the message and the settings only (the engine relies on it):
//! the text is split so that the first part leaves room for the pieces known only at send time
//! (a day separator, a reply quote: each bounded), and the last part for the pieces known now
//! (the "edited" mark, the time when placed after, the reactions line, a note replacing a file).
//! The first file rides with the last text part; each further file is a part of its own (one
//! file per request keeps serenity's multipart numbering simple and stays far below the
//! 10-attachment limit).

use bridge_core::{Message, MessageKind, Mode};
use chrono::{DateTime, Utc};

use crate::{
    config::{ReactionStyle, TimeFormat},
    markdown, split,
};

/// Room kept at the head of the first part for a day separator.
pub const SEPARATOR_MAX: usize = 48;
/// Room kept at the head of the first part of a reply for its quote and link.
pub const REPLY_MAX: usize = 300;
/// Room kept in a file's part for the note that replaces it when it cannot be uploaded.
pub const NOTE_MAX: usize = 200;
/// The longest reactions line.
const REACTIONS_MAX: usize = 400;
/// The longest quote of a parent message.
const SNIPPET_MAX: usize = 80;

/// How copies look (from `[discord]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Where the original time goes.
    pub time: TimeFormat,
    /// How reactions are shown.
    pub reactions: ReactionStyle,
}

/// One part of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartPlan {
    /// Its share of the message text, in Discord markdown.
    pub body: String,
    /// Whether it is the first part (separator, reply quote, time before the text).
    pub head: bool,
    /// Whether it carries the end of the text (edited mark, time after, reactions line).
    pub tail: bool,
    /// The attachment (index in `content.attachments`) uploaded with it.
    pub file: Option<usize>,
}

/// The parts of `msg`'s copy.
pub fn plan(msg: &Message, style: Style, mode: Mode) -> Vec<PartPlan> {
    let body = body(msg);
    let mut head = time_prefix(msg, style, mode).chars().count();
    if mode == Mode::Backfill && style.time != TimeFormat::None {
        head += SEPARATOR_MAX;
    }
    if msg.reply_to.is_some() {
        head += REPLY_MAX;
    }
    let files = msg.content.attachments.len();
    let tail = tail(msg, style, mode).chars().count() + if files > 0 { NOTE_MAX } else { 0 };
    let chunks = split::layout(&body, head, tail);
    let last = chunks.len() - 1;
    let mut parts: Vec<PartPlan> = chunks
        .into_iter()
        .enumerate()
        .map(|(i, body)| PartPlan {
            body,
            head: i == 0,
            tail: i == last,
            file: (i == last && files > 0).then_some(0),
        })
        .collect();
    parts.extend((1..files).map(|f| PartPlan {
        body: String::new(),
        head: false,
        tail: false,
        file: Some(f),
    }));
    parts
}

/// The message text as Discord markdown (notices marked).
fn body(msg: &Message) -> String {
    let text = markdown::to_discord(&msg.content.text, &msg.content.syntax);
    match msg.kind {
        MessageKind::Notice => format!("ℹ️ {text}"),
        MessageKind::Normal => text,
    }
}

/// `<t:UNIX:f>` for `at`: Discord shows it in each reader's language and time zone.
pub fn time_markup(at: DateTime<Utc>) -> String {
    format!("<t:{}:f>", at.timestamp())
}

/// The time before the text, with its space, when placed there.
fn time_prefix(msg: &Message, style: Style, mode: Mode) -> String {
    if mode == Mode::Backfill && style.time == TimeFormat::Prefix {
        format!("{} ", time_markup(msg.sent_at))
    } else {
        String::new()
    }
}

/// What follows the text in the last text part.
fn tail(msg: &Message, style: Style, mode: Mode) -> String {
    let mut s = String::new();
    // A backfilled copy is posted once, already edited: say so. A live edit rewrites the
    // copy in place, and Discord marks it "(edited)" itself.
    if msg.edited && mode == Mode::Backfill {
        s.push_str(" *(edited)*");
    }
    if mode == Mode::Backfill && style.time == TimeFormat::Suffix {
        s.push_str("\n-# ");
        s.push_str(&time_markup(msg.sent_at));
    }
    if style.reactions == ReactionStyle::Line && !msg.reactions.is_empty() {
        s.push('\n');
        s.push_str(&reactions_line(msg));
    }
    s
}

/// An emoji as it can be shown: Unicode as is, a lost one as `:name:`.
pub fn emoji_text(emoji: &str) -> String {
    if emoji.is_ascii() && !(emoji.starts_with(':') && emoji.ends_with(':')) {
        format!(":{emoji}:")
    } else {
        emoji.to_owned()
    }
}

/// `-# 👍 bob, carol_x · 🎉 dave`, at most [`REACTIONS_MAX`] characters.
fn reactions_line(msg: &Message) -> String {
    reactions_text(msg.reactions.iter().map(|r| {
        let who: Vec<&str> = r.users.iter().map(|u| u.name.as_str()).collect();
        (emoji_text(&r.emoji), who)
    }))
}

/// The reactions line of `entries` (each an emoji as shown, and who reacted with it):
/// `-# 👍 bob, carol_x · 🎉 dave`, at most [`REACTIONS_MAX`] characters. The backfill writes it
/// from a message's reactions, the live sink from the reactions it was given one by one.
pub fn reactions_text<'a, E: AsRef<str>>(
    entries: impl Iterator<Item = (E, Vec<&'a str>)>,
) -> String {
    let entries: Vec<String> = entries
        .map(|(emoji, who)| format!("{} {}", emoji.as_ref(), markdown::escape(&who.join(", "))))
        .collect();
    truncate(&format!("-# {}", entries.join(" · ")), REACTIONS_MAX)
}

/// `s` cut to `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The day separator shown before the first message of a new (UTC) day.
pub fn separator(at: DateTime<Utc>) -> String {
    format!("**── <t:{}:D> ──**\n", at.timestamp())
}

/// The quote line of a reply: the parent's author and first words, and a jump link.
pub fn reply_line(parent: Option<(&str, &str, &str)>) -> String {
    let line = match parent {
        Some((author, text, link)) => {
            let snippet = truncate(&snippet(text), SNIPPET_MAX);
            format!(
                "> ↪ **{}** {snippet} [↗]({link})\n",
                markdown::escape(author)
            )
        }
        None => "> ↪ *a message that was not copied*\n".to_owned(),
    };
    truncate(&line, REPLY_MAX)
}

/// The first line of a copy's text, without what kbbridge adds around it.
fn snippet(copy: &str) -> String {
    let mut lines = copy.lines().filter(|l| !is_added_line(l));
    let first = lines.next().unwrap_or_default();
    let first = strip_time_prefix(first);
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a line of a copy is kbbridge's own: a separator, a reply quote, a subtext line.
fn is_added_line(line: &str) -> bool {
    line.starts_with("**── <t:") || line.starts_with("> ↪ ") || line.starts_with("-# ")
}

/// `line` without a leading `<t:…:f> `.
fn strip_time_prefix(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("<t:") {
        if let Some(end) = rest.find(":f> ") {
            if rest[..end].bytes().all(|b| b.is_ascii_digit()) {
                return &rest[end + 4..];
            }
        }
    }
    line
}

/// The note that replaces a file that cannot be uploaded: `text` is what
/// [`bridge_core::Attachment::not_copied`] says (`report.pdf (31.2 MiB) was not copied: …`).
pub fn file_note(text: &str) -> String {
    truncate(&format!("📎 *{}*", markdown::escape(text)), NOTE_MAX - 1)
}

/// What is known only at send time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendTime {
    /// A day separator.
    pub separator: Option<String>,
    /// The reply quote.
    pub reply: Option<String>,
    /// The note replacing the part's file.
    pub note: Option<String>,
}

/// The content of `part`.
pub fn content(msg: &Message, part: &PartPlan, style: Style, mode: Mode, now: &SendTime) -> String {
    let mut s = String::new();
    if part.head {
        if let Some(sep) = &now.separator {
            s.push_str(sep);
        }
        if let Some(r) = &now.reply {
            s.push_str(r);
        }
        s.push_str(&time_prefix(msg, style, mode));
    }
    s.push_str(&part.body);
    if part.tail {
        s.push_str(&tail(msg, style, mode));
    }
    if let Some(n) = &now.note {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(n);
    }
    if s.trim().is_empty() && part.file.is_none() {
        s = "*(empty message)*".into();
    }
    s
}

/// `content` without a leading day separator: what reconciliation compares, since whether a
/// separator was added depends on what came before.
pub fn without_separator(content: &str) -> &str {
    if content.starts_with("**── <t:") {
        if let Some(i) = content.find('\n') {
            return &content[i + 1..];
        }
    }
    content
}

#[cfg(test)]
mod tests {
    use bridge_core::{
        ChatRef, Content, Platform, Reaction, Sender, UserId, testing::text_message,
    };

    use super::*;

    fn style() -> Style {
        Style {
            time: TimeFormat::Prefix,
            reactions: ReactionStyle::Line,
        }
    }

    fn msg(text: &str) -> Message {
        let mut m = text_message(&ChatRef::new(Platform::Keybase, "acme#general"), 7, text);
        m.content = Content {
            syntax: bridge_core::Syntax::Keybase,
            ..Content::plain(text)
        };
        m
    }

    #[test]
    fn a_short_message_is_one_part_with_its_time() {
        let m = msg("*hi*");
        let parts = plan(&m, style(), Mode::Backfill);
        assert_eq!(parts.len(), 1);
        let c = content(&m, &parts[0], style(), Mode::Backfill, &SendTime::default());
        assert_eq!(c, format!("<t:{}:f> **hi**", m.sent_at.timestamp()));
    }

    #[test]
    fn parts_fit_even_with_the_longest_send_time_pieces() {
        let mut m = msg(&"word ".repeat(900));
        m.reply_to = Some("3".into());
        m.edited = true;
        m.reactions = vec![Reaction {
            emoji: "👍".into(),
            exact: true,
            users: vec![Sender {
                id: UserId::new("bob"),
                name: "bob".into(),
                avatar: None,
            }],
            times: Vec::new(),
        }];
        let parts = plan(&m, style(), Mode::Backfill);
        assert_eq!(parts.len(), 3);
        let now = SendTime {
            separator: Some("x".repeat(SEPARATOR_MAX)),
            reply: Some("y".repeat(REPLY_MAX)),
            note: None,
        };
        for p in &parts {
            let c = content(&m, p, style(), Mode::Backfill, &now);
            assert!(c.chars().count() <= 2000, "{}", c.chars().count());
        }
        let last = content(&m, &parts[2], style(), Mode::Backfill, &now);
        assert!(last.ends_with("*(edited)*\n-# 👍 bob"), "{last}");
    }

    #[test]
    fn reply_quotes_skip_what_kbbridge_added() {
        let parent = format!(
            "{}> ↪ *a message that was not copied*\n<t:1:f> first line\nsecond",
            separator(Utc::now())
        );
        let line = reply_line(Some(("bob", &parent, "https://discord.com/channels/1/2/3")));
        assert_eq!(
            line,
            "> ↪ **bob** first line [↗](https://discord.com/channels/1/2/3)\n"
        );
    }

    #[test]
    fn notes_name_the_file_and_its_size() {
        let a = bridge_core::Attachment::unavailable("big_file.bin", Some(30 * 1024 * 1024), "x");
        let n = file_note(&a.not_copied("larger than Discord's 10.0 MiB limit"));
        assert_eq!(
            n,
            "📎 *big\\_file.bin (30.0 MiB) was not copied: larger than Discord's 10.0 MiB limit*"
        );
    }
}
