//! `kbbridge inspect`: what an export holds, per channel: messages, senders, first and last
//! date, attachments present or missing on disk, reactions, edits, rejects. Every message is
//! read through the same pages a backfill reads, so the figures are what would be replayed.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use bridge_core::{ChatId, Cursor, Message};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::{ExportFormat, ExportLayout, KeybaseError, KeybaseExport, export::MAX_PAGE};

/// One channel of an export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelReport {
    /// The chat (`acme#general`, `alice,bob`).
    pub chat: String,
    /// Messages that would be replayed (notices included).
    pub messages: u64,
    /// Distinct senders.
    pub senders: BTreeSet<String>,
    /// When the oldest message was sent.
    pub first: Option<DateTime<Utc>>,
    /// When the newest message was sent.
    pub last: Option<DateTime<Utc>>,
    /// Attachments whose file is in the attachments folder.
    pub attachments_present: u64,
    /// Attachments whose file is not there (they replay as text).
    pub attachments_missing: u64,
    /// Reactions (one per user per emoji per message).
    pub reactions: u64,
    /// Messages that were edited.
    pub edits: u64,
    /// Rejected lines or parts of lines attributed to this chat.
    pub rejects: u64,
}

/// The whole export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectReport {
    /// What was read.
    pub path: String,
    /// Its record format.
    pub format: ExportFormat,
    /// Its layout.
    pub layout: ExportLayout,
    /// How many files were read.
    pub files: usize,
    /// Per channel, by chat name.
    pub channels: Vec<ChannelReport>,
    /// Lines read (entries, for raw dumps).
    pub lines: u64,
    /// Lines skipped on purpose (joins, folded edits…).
    pub skipped: u64,
    /// Every reject, whole lines and attachments or reactions alike: the export's
    /// [`ExportStats::rejects`](crate::ExportStats::rejects), the count the reader's log line
    /// shows too. The per-channel counts and [`rejects_elsewhere`](Self::rejects_elsewhere)
    /// add up to it.
    pub rejects: u64,
    /// Of [`rejects`](Self::rejects), the lines that could not be read at all.
    pub rejected_lines: u64,
    /// Rejects not attributable to a chat (unreadable lines, rejects past the kept list).
    pub rejects_elsewhere: u64,
    /// Whether the per-chat missing-attachment counts are lower bounds (more were missing than
    /// the reader keeps a list of).
    pub missing_capped: bool,
}

/// Calls `f` with every message of every chat (chats by name, messages oldest first).
///
/// # Errors
/// When the export can no longer be read as indexed.
pub fn for_each_message(
    export: &KeybaseExport,
    mut f: impl FnMut(&ChatId, Message),
) -> Result<(), KeybaseError> {
    let mut chats: Vec<&ChatId> = export.chats().iter().map(|c| &c.chat).collect();
    chats.sort();
    for chat in chats {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = export.read_page(chat, cursor.as_ref(), MAX_PAGE)?;
            for m in page.messages {
                f(chat, m);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(())
}

/// Reads the whole export and sums it up per channel.
///
/// # Errors
/// When the export can no longer be read as indexed.
pub fn inspect(export: &KeybaseExport) -> Result<InspectReport, KeybaseError> {
    let mut channels: BTreeMap<String, ChannelReport> = BTreeMap::new();
    for_each_message(export, |chat, m| {
        let c = channels
            .entry(chat.to_string())
            .or_insert_with(|| ChannelReport {
                chat: chat.to_string(),
                ..ChannelReport::default()
            });
        c.messages += 1;
        c.senders.insert(m.sender.name.clone());
        c.first = Some(c.first.map_or(m.sent_at, |t| t.min(m.sent_at)));
        c.last = Some(c.last.map_or(m.sent_at, |t| t.max(m.sent_at)));
        // Files the export lacks reach the sinks as notes; they are counted as missing below.
        let present = m.content.attachments.iter();
        c.attachments_present +=
            present.filter(|a| a.unavailable_reason().is_none()).count() as u64;
        c.reactions += m
            .reactions
            .iter()
            .map(|r| r.users.len() as u64)
            .sum::<u64>();
        c.edits += u64::from(m.edited);
    })?;
    let stats = export.stats();
    for missing in &stats.attachments.missing_list {
        if let Some(c) = channels.get_mut(missing.chat.as_str()) {
            c.attachments_missing += 1;
        }
    }
    for reject in export.rejects() {
        let chat = reject
            .chat
            .as_deref()
            .map(|c| match c.contains(['#', ',']) {
                true => c.to_owned(),
                false => format!("{c}#general"),
            });
        if let Some(c) = chat.and_then(|c| channels.get_mut(&c)) {
            c.rejects += 1;
        }
    }
    let attributed: u64 = channels.values().map(|c| c.rejects).sum();
    Ok(InspectReport {
        path: export.path().display().to_string(),
        format: export.format(),
        layout: export.layout(),
        files: export.files().count(),
        channels: channels.into_values().collect(),
        lines: stats.lines,
        skipped: stats.skipped.total(),
        rejects: stats.rejects,
        rejected_lines: stats.rejected,
        rejects_elsewhere: stats.rejects.saturating_sub(attributed),
        missing_capped: stats.attachments.missing > stats.attachments.missing_list.len() as u64,
    })
}

fn date(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

impl fmt::Display for InspectReport {
    /// A table, one channel per row, then the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({:?}): {}, {} file(s)",
            self.path, self.format, self.layout, self.files
        )?;
        writeln!(
            f,
            "{:<28} {:>8} {:>7} {:<20} {:<20} {:>17} {:>9} {:>6} {:>7}",
            "channel",
            "messages",
            "senders",
            "first",
            "last",
            "attachments ok/missing",
            "reactions",
            "edits",
            "rejects"
        )?;
        let mut total = ChannelReport::default();
        for c in &self.channels {
            writeln!(
                f,
                "{:<28} {:>8} {:>7} {:<20} {:<20} {:>17} {:>9} {:>6} {:>7}",
                c.chat,
                c.messages,
                c.senders.len(),
                date(c.first),
                date(c.last),
                format!("{}/{}", c.attachments_present, c.attachments_missing),
                c.reactions,
                c.edits,
                c.rejects
            )?;
            total.messages += c.messages;
            total.senders.extend(c.senders.iter().cloned());
            total.attachments_present += c.attachments_present;
            total.attachments_missing += c.attachments_missing;
            total.reactions += c.reactions;
            total.edits += c.edits;
            total.rejects += c.rejects;
        }
        writeln!(
            f,
            "\n{} channel(s), {} message(s) from {} sender(s); attachments {} present, {} missing{}; \
             {} reaction(s), {} edited; {} line(s) read, {} skipped; {} reject(s): {} whole line(s), \
             the others attachments or reactions left off their message; {} outside any channel",
            self.channels.len(),
            total.messages,
            total.senders.len(),
            total.attachments_present,
            total.attachments_missing,
            if self.missing_capped {
                " (at least)"
            } else {
                ""
            },
            total.reactions,
            total.edits,
            self.lines,
            self.skipped,
            self.rejects,
            self.rejected_lines,
            self.rejects_elsewhere
        )
    }
}
