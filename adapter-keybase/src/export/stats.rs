//! What reading an export found: counts by outcome, reactions and attachments.
//!
//! Every line of the file ends up in exactly one of three places, so
//! `lines == messages + skipped.total() + rejected` always holds (see [`ExportStats::balanced`]).

use std::path::PathBuf;

use bridge_core::ChatId;

use super::Reject;

/// Why an understood line is not replayed as a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// An empty or whitespace-only line.
    Blank,
    /// A record without `text` or attachment: join, leave, metadata, pin, unfurl…
    NoText,
    /// A `[Reaction ':tada:' to msg id 42]` pseudo-line: the reaction is already on its target.
    ReactionLine,
    /// A system or headline line, with notices turned off.
    NoticeDisabled,
    /// A second line for a (channel, message id) already seen (incremental exports repeat
    /// messages); the first line in the file, the newest, is kept.
    Duplicate,
    /// Raw dumps: an `{"error": …}` entry (a message Keybase could not decrypt).
    Undecryptable,
    /// Raw dumps: an edit, delete or reaction message, applied to its target.
    Folded,
    /// Raw dumps: a message removed by a later delete.
    Deleted,
}

/// Skipped lines, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Empty or whitespace-only lines.
    pub blank: u64,
    /// Records without text (join, leave, metadata…).
    pub no_text: u64,
    /// Reaction pseudo-lines.
    pub reaction_lines: u64,
    /// System and headline lines skipped because notices are off.
    pub notices_disabled: u64,
    /// Repeated (channel, id) lines.
    pub duplicates: u64,
    /// Raw dumps: undecryptable `{"error": …}` entries.
    pub undecryptable: u64,
    /// Raw dumps: edit, delete and reaction messages, applied to their targets.
    pub folded: u64,
    /// Raw dumps: messages removed by a delete.
    pub deleted: u64,
}

impl Skipped {
    /// All skipped lines.
    pub fn total(&self) -> u64 {
        self.blank
            + self.no_text
            + self.reaction_lines
            + self.notices_disabled
            + self.duplicates
            + self.undecryptable
            + self.folded
            + self.deleted
    }

    pub(crate) fn add(&mut self, reason: SkipReason) {
        match reason {
            SkipReason::Blank => self.blank += 1,
            SkipReason::NoText => self.no_text += 1,
            SkipReason::ReactionLine => self.reaction_lines += 1,
            SkipReason::NoticeDisabled => self.notices_disabled += 1,
            SkipReason::Duplicate => self.duplicates += 1,
            SkipReason::Undecryptable => self.undecryptable += 1,
            SkipReason::Folded => self.folded += 1,
            SkipReason::Deleted => self.deleted += 1,
        }
    }
}

/// Reactions on the replayed messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReactionStats {
    /// Reaction entries (one per emoji per message) that will be replayed.
    pub emoji: u64,
    /// Entries in the pre-2020 shape `{"tada":{"carol":{…}}}`: the emoji is only known by its
    /// mangled key (`tada`, `1` for both `:+1:` and `:-1:`), replayed with `exact = false`.
    pub old_shape: u64,
    /// New-shape entries without a usable `decorated` emoji, replayed like old-shape ones.
    pub undecorated: u64,
    /// Replayed messages carrying at least one inexact reaction.
    pub messages_inexact: u64,
}

/// Attachments of the replayed messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentStats {
    /// Messages with an attachment record.
    pub total: u64,
    /// Attachments whose file was found inside the attachments folder.
    pub found: u64,
    /// Attachments whose file is not there (the message replays with its text only).
    pub missing: u64,
    /// Attachments refused because their name would leave the attachments folder.
    pub rejected: u64,
    /// The missing attachments, in file order (at most [`super::MAX_KEPT_REPORTS`]).
    pub missing_list: Vec<MissingAttachment>,
}

/// An attachment whose file is not in the attachments folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingAttachment {
    /// The chat of the message.
    pub chat: ChatId,
    /// The message id.
    pub id: u64,
    /// The line of the message in the export (1-based).
    pub line: u64,
    /// The file name the export gives; `None` for exports from before attachment download
    /// (they only have the server-side `path`).
    pub filename: Option<String>,
    /// Where the file was looked for.
    pub path: Option<PathBuf>,
}

/// The summary of one read of an export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Lines in the file (the last one may lack its newline); for raw API dumps, the entries
    /// (`{"msg":…}` and `{"error":…}` wrappers) plus the damaged regions reported.
    pub lines: u64,
    /// Messages to replay (distinct (channel, id)), notices included.
    pub messages: u64,
    /// Of `messages`, system and headline notices.
    pub notices: u64,
    /// Lines understood but not replayed.
    pub skipped: Skipped,
    /// Lines that could not be read at all (each is in the rejects list).
    pub rejected: u64,
    /// Every reject reported: the [`rejected`](Self::rejected) lines, and the attachments and
    /// reactions refused on messages that are still replayed. The length of the rejects list
    /// plus [`rejects_not_kept`](Self::rejects_not_kept): the one count of rejects that the
    /// log line, `inspect` and anything else show.
    pub rejects: u64,
    /// Lines whose `channel_name` was only a team name (exports before 2022-07), read as
    /// `<team>#general`.
    pub legacy_channel_lines: u64,
    /// Reactions.
    pub reactions: ReactionStats,
    /// Attachments.
    pub attachments: AttachmentStats,
    /// Rejects counted but not kept in memory because there were more than
    /// [`super::MAX_KEPT_REPORTS`] (the rejects file, when enabled, has them all).
    pub rejects_not_kept: u64,
}

impl ExportStats {
    /// Whether every line is accounted for: a message, a counted skip or a reported reject.
    pub fn balanced(&self) -> bool {
        self.lines == self.messages + self.skipped.total() + self.rejected
    }

    /// Why nothing of the export could be read, or `None` when something could: no line
    /// became a message nor was understood and skipped (blank lines are not understood).
    /// `first` is the first line rejected, to show what the file holds instead.
    pub(crate) fn nothing_read(&self, first: Option<&Reject>) -> Option<String> {
        if self.messages > 0 || self.skipped.total() > self.skipped.blank {
            return None;
        }
        Some(match first {
            Some(r) => format!(
                "all {} line(s) were rejected (line {}: {:?}, {})",
                self.rejected, r.line, r.reason, r.detail
            ),
            None if self.lines == 0 => "it is empty or holds no record".to_owned(),
            None => format!("its {} line(s) are blank", self.lines),
        })
    }
}

/// What one kept message adds to the stats; subtracted again if it turns out a duplicate.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub notice: bool,
    pub attachment: bool,
    pub found: bool,
    pub missing: bool,
    pub attachment_rejected: bool,
    pub emoji: u64,
    pub old_shape: u64,
    pub undecorated: u64,
}

impl Tally {
    /// Adds (`sign = 1`) or removes (`sign = -1`) this message's share of the stats.
    pub(crate) fn apply(&self, stats: &mut ExportStats, sign: i8) {
        fn step(field: &mut u64, by: u64, sign: i8) {
            *field = if sign >= 0 {
                field.saturating_add(by)
            } else {
                field.saturating_sub(by)
            };
        }
        step(&mut stats.notices, u64::from(self.notice), sign);
        let a = &mut stats.attachments;
        step(&mut a.total, u64::from(self.attachment), sign);
        step(&mut a.found, u64::from(self.found), sign);
        step(&mut a.missing, u64::from(self.missing), sign);
        step(&mut a.rejected, u64::from(self.attachment_rejected), sign);
        let r = &mut stats.reactions;
        step(&mut r.emoji, self.emoji, sign);
        step(&mut r.old_shape, self.old_shape, sign);
        step(&mut r.undecorated, self.undecorated, sign);
        let inexact = self.old_shape + self.undecorated > 0;
        step(&mut r.messages_inexact, u64::from(inexact), sign);
    }
}
