//! An edit applied to the copies of its message.
//!
//! A copy's text may take several parts ([`Sink::text_parts`]; which ones is in `copy_text`,
//! else part 0). Per target chat, an edit:
//! 1. is skipped if the copy already shows a newer edit (`copy_text.edited_at`);
//! 2. rewrites each text part the copy keeps with its share of the new text
//!    ([`Sink::edit_text`]), each step journalled on its own (`<edit op>#<index>`);
//! 3. sends the parts the new text needs beyond those ([`Sink::send_text`]), numbered after
//!    every part the copy ever had, each pending → sent in `message_copy` like a message's
//!    part (a pending one is first looked for with [`Sink::find_text`]);
//! 4. or deletes the surplus text parts, the last first, forgetting each row once deleted;
//! 5. records the copy's new text parts, the edit's time and the edit done, in one transaction.
//!
//! A crash anywhere leaves the edit pending; applying it again finds the same plan (the text
//! parts and `next_part` are only rewritten in step 5) and does only what is left. A delete
//! repeated after a crash finds the part gone, which sinks take as done. File parts are never
//! touched.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{
    Leases, Relay, RelayError,
    apply::{Applied, Outcome, op, refused, with_retry},
};
use crate::{
    adapter::{AdapterError, Sink, TextPart},
    ids::{ChatRef, MsgId, MsgRef},
    model::{Content, Message, MessageKind, Sender},
    report::Report,
    store::{CopyRow, CopyState, Lease, OpState, TextLayout},
};

/// An edit event's fields.
pub(super) struct Edit<'a> {
    /// The edited message.
    pub target: &'a MsgRef,
    /// Who edited it.
    pub sender: &'a Sender,
    /// The new content.
    pub content: &'a Content,
    /// When the edit was made.
    pub at: DateTime<Utc>,
}

/// What became of an edit in one target chat.
enum CopyEdit {
    /// The chat has no copy of the message.
    Missing,
    /// The copy shows a newer edit.
    Superseded,
    /// Applied (now, or before).
    Edited,
    /// The target cannot edit the copy.
    Refused,
}

/// One target chat's copy, as an edit sees it.
struct Copy<'a> {
    to: &'a ChatRef,
    sink: &'a dyn Sink,
    rows: Vec<CopyRow>,
    sent: HashMap<u32, MsgId>,
}

impl Relay {
    pub(super) async fn edit(
        &self,
        edit: &Edit<'_>,
        from: &ChatRef,
        others: &[ChatRef],
        leases: &mut Leases,
    ) -> Result<Outcome, RelayError> {
        if self.store.is_copy(edit.target).await? {
            return Ok(Outcome::Done(Applied::Echo));
        }
        let op = op(edit.target, &format!("edit@{}", edit.at.timestamp_millis()));
        // The relay does not keep the original message: what a sink needs of it, from the
        // edit.
        let edited = Message {
            origin: edit.target.clone(),
            sender: edit.sender.clone(),
            sent_at: edit.at,
            kind: MessageKind::Normal,
            content: edit.content.clone(),
            reply_to: None,
            reactions: Vec::new(),
            edited: true,
        };
        let (mut edited_in, mut superseded, mut missing) = (0, 0, Vec::new());
        for to in others {
            match self.edit_copy(&op, &edited, from, to, leases).await? {
                CopyEdit::Missing => missing.push(to),
                CopyEdit::Superseded => superseded += 1,
                CopyEdit::Edited => edited_in += 1,
                CopyEdit::Refused => {}
            }
        }
        if missing.len() == others.len() {
            return self.not_yet(edit.target).await;
        }
        for to in missing {
            warn!(to = %to, msg = %edit.target, "an edit of a message not copied there; dropped");
        }
        if edited_in == 0 && superseded > 0 {
            return Ok(Outcome::Done(Applied::Superseded));
        }
        Ok(Outcome::Done(Applied::Relayed(edited_in)))
    }

    async fn edit_copy(
        &self,
        op: &MsgRef,
        edited: &Message,
        from: &ChatRef,
        to: &ChatRef,
        leases: &mut Leases,
    ) -> Result<CopyEdit, RelayError> {
        let origin = &edited.origin;
        let rows = self.store.copies(origin, to).await?;
        let sent: HashMap<u32, MsgId> = rows
            .iter()
            .filter(|r| r.state == CopyState::Sent)
            .filter_map(|r| Some((r.part, r.msg.clone()?)))
            .collect();
        if sent.is_empty() {
            return Ok(CopyEdit::Missing);
        }
        if let Some(OpState::Done { .. }) = self.store.op_state(op, to).await? {
            return Ok(CopyEdit::Edited);
        }
        let layout = self.store.text_layout(origin, to).await?;
        let shown = layout.as_ref().and_then(|l| l.edited_at);
        if shown.is_some_and(|t| t.timestamp_millis() > edited.sent_at.timestamp_millis()) {
            return Ok(CopyEdit::Superseded);
        }
        let (old, next_part) = match &layout {
            Some(l) if !l.parts.is_empty() => (l.parts.clone(), l.next_part),
            _ => {
                let next = rows.iter().map(|r| r.part + 1).max().unwrap_or(1);
                (vec![0], next)
            }
        };
        let sink = self.sink(to.platform)?.as_ref();
        let count = sink.text_parts(edited).max(1);
        let keep = old.len().min(count as usize);
        self.store.mark_op_pending(op, to).await?;
        let copy = Copy {
            to,
            sink,
            rows,
            sent,
        };

        // 1. The text parts the copy keeps, each with its share of the new text.
        let mut steps = Vec::with_capacity(keep);
        let mut parts = Vec::with_capacity(count as usize);
        for (index, &part) in old.iter().take(keep).enumerate() {
            let step = op.chat_ref().msg(format!("{}#{index}", op.msg));
            steps.push(step.clone());
            parts.push(part);
            let Some(id) = copy.sent.get(&part) else {
                continue;
            };
            let text = text_part(edited, index, count, part);
            let applied = self
                .journalled(&step, to, || async {
                    with_retry(self, || sink.edit_text(&to.chat, id, text)).await?;
                    Ok(None)
                })
                .await?;
            if !applied {
                // It cannot edit this copy: adding or deleting parts would only garble it.
                let unchanged = TextLayout {
                    parts: old.clone(),
                    next_part,
                    edited_at: shown,
                };
                self.store
                    .finish_edit(op, &steps, origin, to, &unchanged)
                    .await?;
                return Ok(CopyEdit::Refused);
            }
        }

        // 2. The parts the new text needs beyond those, after every part the copy ever had.
        let added: Vec<u32> = (0..count - keep as u32).map(|i| next_part + i).collect();
        if !added.is_empty() {
            if layout.is_none() {
                // Applied again after a crash, this edit must number its new parts the same.
                let before = TextLayout {
                    parts: old.clone(),
                    next_part,
                    edited_at: None,
                };
                self.store.record_text_layout(origin, to, &before).await?;
            }
            let lease = self.lease(leases, from, to.platform).await?.lease().clone();
            for (i, &part) in added.iter().enumerate() {
                let text = text_part(edited, keep + i, count, part);
                if !self.send_added(&copy, text, &lease).await? {
                    // Refused: the copy shows the text up to here.
                    break;
                }
                parts.push(part);
            }
        }

        // 3. Text parts the new text no longer needs, the last first.
        for &part in old.iter().skip(keep).rev() {
            let Some(id) = copy.sent.get(&part) else {
                // Deleted, and its row forgotten, before a crash.
                continue;
            };
            match with_retry(self, || sink.delete(&to.chat, id)).await {
                Ok(()) => self.store.remove_copy_part(origin, to, part).await?,
                Err(error) if refused(&error) => {
                    warn!(to = %to, msg = %origin, part, error = %Report::new(&error),
                        "the target refused to delete a text part an edit no longer needs; \
                         it keeps its old text");
                }
                Err(error) => {
                    return Err(RelayError::Sink {
                        chat: to.clone(),
                        error,
                    });
                }
            }
        }

        let layout = TextLayout {
            parts,
            next_part: next_part + added.len() as u32,
            edited_at: Some(edited.sent_at),
        };
        self.store
            .finish_edit(op, &steps, origin, to, &layout)
            .await?;
        Ok(CopyEdit::Edited)
    }

    /// Sends a text part an edit adds, exactly once: `false` when the target refused it.
    async fn send_added(
        &self,
        copy: &Copy<'_>,
        text: TextPart<'_>,
        lease: &Lease,
    ) -> Result<bool, RelayError> {
        let (origin, to, sink) = (&text.msg.origin, copy.to, copy.sink);
        let sink_err = |error| RelayError::Sink {
            chat: to.clone(),
            error,
        };
        match copy
            .rows
            .iter()
            .find(|r| r.part == text.part)
            .map(|r| r.state)
        {
            Some(CopyState::Sent) => return Ok(true),
            Some(CopyState::Pending) => {
                // A crash during its send: did it arrive?
                match with_retry(self, || sink.find_text(&to.chat, text)).await {
                    Ok(Some(id)) => {
                        self.store.mark_sent(origin, to, text.part, &id).await?;
                        info!(msg = %origin, part = text.part,
                            "a crashed send of an edit's text part had arrived; recorded it");
                        return Ok(true);
                    }
                    Ok(None) => {}
                    Err(AdapterError::Unsupported(_)) => {
                        warn!(msg = %origin, part = text.part,
                            "an edit's text part was being sent when kbbridge stopped, and the \
                             target cannot tell whether it arrived; sending again (possible \
                             duplicate)");
                    }
                    Err(error) => return Err(sink_err(error)),
                }
            }
            _ => {}
        }
        // Fenced: nothing is sent if another process has taken the link over.
        self.store
            .mark_pending_fenced(origin, to, text.part, lease)
            .await?;
        match with_retry(self, || sink.send_text(&to.chat, text)).await {
            Ok(id) => {
                self.store.mark_sent(origin, to, text.part, &id).await?;
                Ok(true)
            }
            Err(error) if refused(&error) => {
                warn!(to = %to, msg = %origin, part = text.part, error = %Report::new(&error),
                    "the target refused a text part an edit adds; the copy shows the text \
                     without it");
                self.store.remove_copy_part(origin, to, text.part).await?;
                Ok(false)
            }
            Err(error) => Err(sink_err(error)),
        }
    }
}

fn text_part(msg: &Message, index: usize, count: u32, part: u32) -> TextPart<'_> {
    TextPart {
        msg,
        index: u32::try_from(index).unwrap_or(u32::MAX),
        count,
        part,
    }
}
