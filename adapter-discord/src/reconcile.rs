//! After a crash: was a pending part delivered? The channel's recent messages are read and the
//! part's copy is looked for by what Discord keeps as sent: webhook, author name, content, and
//! the number and sizes of attachments; never by file name, which Discord rewrites
//! (`photo 1.jpg` comes back as `photo_1.jpg`, `ñandú.png` as `nandu.png`). Messages the store
//! already maps to another origin are skipped. The day separator is left out of the comparison
//! (whether one was due depended on what came before). A note replacing a file is part of the
//! expected content when it was known before sending; one written only at send time (the file
//! could not be read, Discord refused its size) is accepted in its place.

use bridge_core::{ChatId, MsgId, MsgRef, Outgoing, Platform};
use serenity::model::{channel::Message as DiscordMessage, id::WebhookId};
use tracing::info;

use crate::{
    channels,
    config::ReactionStyle,
    convert::{self, without_separator},
    error::DiscordError,
    names::webhook_username,
    sink::DiscordSink,
};

impl DiscordSink {
    /// The copy of `out` already in `to`, if any.
    pub(crate) async fn reconcile(
        &self,
        to: &ChatId,
        out: &Outgoing<'_>,
    ) -> Result<Option<MsgId>, DiscordError> {
        let channel = channels::channel_id(to)?;
        let plan = self.plan(out.msg);
        let Some(part) = plan.get(out.part as usize) else {
            return Ok(None);
        };
        let hook = self.hook(channel).await?;
        let mut now = self.send_time(channel, &hook, out, part).await?;
        now.note = self.planned_note(out.msg, part);
        let planned_note = now.note.is_some();
        let expected = convert::content(out.msg, part, self.style, out.mode, &now);
        let expected = without_separator(&expected).to_owned();
        let author = webhook_username(&out.msg.sender.name);
        // The file expected with the part (none when a note replaces it), by size if known.
        let file = part
            .file
            .filter(|_| !planned_note)
            .and_then(|i| out.msg.content.attachments.get(i))
            .map(|a| a.size);
        let matches = |m: &DiscordMessage| {
            if m.webhook_id.map(WebhookId::get) != Some(hook.id) || m.author.name != author {
                return false;
            }
            let got = without_separator(&m.content);
            match file {
                None => m.attachments.is_empty() && got == expected,
                Some(size) => {
                    let uploaded = m.attachments.len() == 1
                        && size.is_none_or(|s| u64::from(m.attachments[0].size) == s)
                        && got == expected;
                    // A note written at send time instead of the file.
                    let noted = m.attachments.is_empty()
                        && (got.starts_with("📎 ")
                            || got
                                .strip_prefix(expected.as_str())
                                .is_some_and(|r| r.starts_with("\n📎 ")));
                    uploaded || noted
                }
            }
        };
        // After the previous part's copy if there is one, else the newest pages.
        let after = out
            .earlier
            .last()
            .and_then(|m| m.as_str().parse::<u64>().ok());
        let mut before = None;
        let mut found: Option<DiscordMessage> = None;
        for _ in 0..self.options.reconcile_pages.max(1) {
            let page = self.recent(channel, after, before).await?;
            for m in page.iter().filter(|m| matches(m)) {
                if self.is_other_copy(to, m, out).await? {
                    continue;
                }
                // Pages are newest first: keep the oldest match.
                if found.as_ref().is_none_or(|f| m.id < f.id) {
                    found = Some(m.clone());
                }
            }
            if after.is_some() || page.len() < 100 {
                break;
            }
            before = page.last().map(|m| m.id.get());
        }
        let Some(m) = found else {
            return Ok(None);
        };
        let id = m.id.get();
        info!(msg = %out.msg.origin, part = out.part, id, "found the copy of an interrupted send");
        if part.head {
            self.note_copied(channel, out.msg, id, &m.content);
        }
        if part.tail && self.style.reactions == ReactionStyle::Bot {
            self.react_backfill(channel, id, out.msg).await;
        }
        Ok(Some(MsgId::new(id.to_string())))
    }

    /// Whether Discord message `m` is recorded as the copy of something other than `out`.
    async fn is_other_copy(
        &self,
        to: &ChatId,
        m: &DiscordMessage,
        out: &Outgoing<'_>,
    ) -> Result<bool, DiscordError> {
        let copy = MsgRef {
            platform: Platform::Discord,
            chat: to.clone(),
            msg: MsgId::new(m.id.to_string()),
        };
        Ok(match self.store.origin_of(&copy).await? {
            Some(origin) => origin != out.msg.origin,
            None => false,
        })
    }
}
