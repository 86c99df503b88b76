//! `kbbridge convert`: an export as one row per message, in JSON, CSV or XLSX.
//!
//! Columns, in order:
//!
//! | column | content |
//! |---|---|
//! | `conversation` | the chat: `acme#general`, `alice,bob` |
//! | `id` | the Keybase message id (per conversation) |
//! | `time` | when it was sent, UTC, ISO-8601 with milliseconds (`2020-09-13T12:26:40.123Z`) |
//! | `sender` | the sender's username |
//! | `text` | the text (edited text for edited messages; the caption for attachments) |
//! | `reply_to` | the id of the message replied to, or empty |
//! | `attachment` | the attachment file, relative to the attachments folder, or empty |
//! | `reactions` | `:+1: alice bob; :tada: carol` (JSON: `[{"emoji", "users"}]`) |
//!
//! Rows are ordered by conversation name, then oldest first. JSON is an array of objects with
//! these keys (`id` and `reply_to` as numbers); XLSX puts at most 1,048,575 rows on a sheet and
//! cuts cells at Excel's 32,767 characters.
//!
//! Messages are written by anyone in the team, and a spreadsheet opening the CSV runs a cell
//! that starts like a formula (`=HYPERLINK(…)`, `@SUM(…)`). So CSV cells starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return get a leading `'` (OWASP's CSV-injection rule,
//! [`neutralise_formula`]); JSON keeps the text as it is, and XLSX cells are written as
//! strings, which Excel never evaluates.

use std::{
    io::{self, Write},
    path::Path,
};

use bridge_core::{ChatId, Message};
use chrono::SecondsFormat;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::Serialize;

use crate::{KeybaseError, KeybaseExport, inspect::for_each_message};

/// The column names, in order.
pub const COLUMNS: [&str; 8] = [
    "conversation",
    "id",
    "time",
    "sender",
    "text",
    "reply_to",
    "attachment",
    "reactions",
];

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// A JSON array of row objects.
    Json,
    /// CSV with a header row.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

/// What can go wrong converting.
#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    /// The export could not be read.
    #[error(transparent)]
    Read(#[from] KeybaseError),
    /// The output could not be written.
    #[error("cannot write the output")]
    Write(#[from] io::Error),
    /// The CSV writer failed.
    #[error("cannot write CSV")]
    Csv(#[from] csv::Error),
    /// The XLSX writer failed.
    #[error("cannot write the XLSX file")]
    Xlsx(#[from] XlsxError),
}

/// One reaction of a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowReaction {
    /// The emoji as Keybase has it (`:+1:`).
    pub emoji: String,
    /// Who reacted.
    pub users: Vec<String>,
}

/// One row: one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The chat.
    pub conversation: String,
    /// The message id.
    pub id: u64,
    /// UTC, ISO-8601.
    pub time: String,
    /// The sender.
    pub sender: String,
    /// The text.
    pub text: String,
    /// The message replied to.
    pub reply_to: Option<u64>,
    /// The attachment file, relative to the attachments folder.
    pub attachment: Option<String>,
    /// The reactions.
    pub reactions: Vec<RowReaction>,
}

impl Row {
    fn of(root: &Path, chat: &ChatId, m: Message) -> Self {
        // A file the export does not have (missing, refused) has no path to show.
        let available = m.content.attachments.first();
        let available = available.filter(|a| a.unavailable_reason().is_none());
        let attachment = available.map(|a| {
            let path = a.data.describe();
            Path::new(&path)
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or(path)
        });
        Row {
            conversation: chat.to_string(),
            id: m.origin.msg.as_str().parse().unwrap_or(0),
            time: m.sent_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            sender: m.sender.name,
            text: m.content.text,
            reply_to: m.reply_to.and_then(|r| r.as_str().parse().ok()),
            attachment,
            reactions: m
                .reactions
                .into_iter()
                .map(|r| RowReaction {
                    emoji: r.emoji,
                    users: r.users.into_iter().map(|u| u.name).collect(),
                })
                .collect(),
        }
    }

    /// The row as text cells, in [`COLUMNS`] order.
    pub fn cells(&self) -> [String; 8] {
        let reactions: Vec<String> = self
            .reactions
            .iter()
            .map(|r| format!("{} {}", r.emoji, r.users.join(" ")))
            .collect();
        [
            self.conversation.clone(),
            self.id.to_string(),
            self.time.clone(),
            self.sender.clone(),
            self.text.clone(),
            self.reply_to.map(|r| r.to_string()).unwrap_or_default(),
            self.attachment.clone().unwrap_or_default(),
            reactions.join("; "),
        ]
    }
}

/// Calls `f` with every row, in order (and whether it is the first); the rows written.
fn each_row(
    export: &KeybaseExport,
    mut f: impl FnMut(Row, bool) -> Result<(), TabularError>,
) -> Result<u64, TabularError> {
    let root = std::fs::canonicalize(export.attachments_dir())
        .unwrap_or_else(|_| export.attachments_dir().to_owned());
    let (mut rows, mut failed) = (0, None);
    for_each_message(export, |chat, m| {
        if failed.is_none() {
            match f(Row::of(&root, chat, m), rows == 0) {
                Ok(()) => rows += 1,
                Err(e) => failed = Some(e),
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

/// Writes a JSON array of rows to `out`; returns the rows written.
///
/// # Errors
/// [`TabularError`].
pub fn write_json(export: &KeybaseExport, out: impl Write) -> Result<u64, TabularError> {
    let mut out = io::BufWriter::new(out);
    out.write_all(b"[")?;
    let rows = each_row(export, |row, first| {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut out, &row).map_err(io::Error::from)?;
        Ok(())
    })?;
    out.write_all(if rows == 0 { b"]\n" } else { b"\n]\n" })?;
    out.flush()?;
    Ok(rows)
}

/// Writes CSV (with a header row) to `out`; returns the rows written.
///
/// # Errors
/// [`TabularError`].
pub fn write_csv(export: &KeybaseExport, out: impl Write) -> Result<u64, TabularError> {
    write_csv_shown(export, out, |cell| cell)
}

/// [`write_csv`], each cell (already [neutralised](neutralise_formula)) passed through `shown`
/// before it is written: how the caller makes the cells safe for where they go (a terminal).
///
/// # Errors
/// [`TabularError`].
pub fn write_csv_shown(
    export: &KeybaseExport,
    out: impl Write,
    shown: impl Fn(String) -> String,
) -> Result<u64, TabularError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    let rows = each_row(export, |row, _| {
        Ok(w.write_record(row.cells().map(|c| shown(neutralise_formula(c))))?)
    })?;
    w.flush()?;
    Ok(rows)
}

/// The first characters that make a spreadsheet read a CSV cell as a formula (OWASP).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as a CSV cell a spreadsheet shows as text: a leading `'` when it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return (OWASP's CSV-injection rule); unchanged otherwise.
pub fn neutralise_formula(mut cell: String) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        cell.insert(0, '\'');
    }
    cell
}

/// Excel's limits.
const XLSX_MAX_ROWS: u32 = 1_048_575;
const XLSX_MAX_CHARS: usize = 32_767;

/// Writes an XLSX workbook to `path` (sheets `messages`, `messages 2`… of at most 1,048,575
/// rows under the header); returns the rows written.
///
/// # Errors
/// [`TabularError`].
pub fn write_xlsx(export: &KeybaseExport, path: &Path) -> Result<u64, TabularError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let mut sheets = 0u32;
    let mut row_in_sheet = XLSX_MAX_ROWS;
    let rows = each_row(export, |row, _| {
        if row_in_sheet == XLSX_MAX_ROWS {
            sheets += 1;
            let name = if sheets == 1 {
                "messages".to_owned()
            } else {
                format!("messages {sheets}")
            };
            let sheet = book.add_worksheet();
            sheet.set_name(name)?;
            for (col, title) in (0u16..).zip(COLUMNS) {
                sheet.write_string_with_format(0, col, title, &bold)?;
            }
            row_in_sheet = 0;
        }
        row_in_sheet += 1;
        let sheet = book.worksheet_from_index(sheets as usize - 1)?;
        for (col, cell) in (0u16..).zip(row.cells()) {
            if cell.is_empty() {
                continue;
            }
            if col == 1 || col == 5 {
                if let Ok(n) = cell.parse::<u32>() {
                    sheet.write_number(row_in_sheet, col, f64::from(n))?;
                    continue;
                }
            }
            sheet.write_string(row_in_sheet, col, cut(&cell))?;
        }
        Ok(())
    })?;
    if sheets == 0 {
        let sheet = book.add_worksheet();
        sheet.set_name("messages")?;
        for (col, title) in (0u16..).zip(COLUMNS) {
            sheet.write_string_with_format(0, col, title, &bold)?;
        }
    }
    book.save(path)?;
    Ok(rows)
}

/// `text` cut to Excel's cell limit.
fn cut(text: &str) -> &str {
    match text.char_indices().nth(XLSX_MAX_CHARS) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_leading_quote() {
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\r=1",
        ] {
            assert_eq!(neutralise_formula(cell.to_owned()), format!("'{cell}"));
        }
    }

    #[test]
    fn other_cells_are_left_as_they_are() {
        for cell in ["", "hello", " =1", "a=1", "'=1", ":+1: alice", "1", "\n=1"] {
            assert_eq!(neutralise_formula(cell.to_owned()), cell);
        }
    }
}
