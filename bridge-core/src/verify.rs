//! Proof that a migration is complete: a target chat read back ([`Sink::read_back`]) and
//! compared, message by message, with the source and the mapping store.
//!
//! Every source message must have its copy: each part recorded sent, found on the target once,
//! not deleted, not edited there by hand (an edit the relay made is expected), in the source's
//! order. What was rejected, or copied with a note in place of a file, was decided on purpose
//! and is counted, not flagged. What kbbridge posted that no source message claims is reported
//! too: a copy posted twice (found by the part it says it is where the target keeps that, else
//! by its text) or an unknown message.

use std::collections::{HashMap, HashSet};

use crate::{
    adapter::{AdapterError, HistorySource, Posted, Sink},
    ids::{ChatRef, Cursor, MsgId, MsgRef},
    store::{CopyState, MappingStore, StoreError},
};

/// Source messages read per page.
const PAGE: usize = 500;

/// Something wrong with one message's copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// No part of the message was ever copied: run the backfill (again).
    NotCopied {
        /// The source message.
        origin: MsgRef,
    },
    /// A send was interrupted and not finished: run the backfill again.
    Interrupted {
        /// The source message.
        origin: MsgRef,
        /// The part.
        part: u32,
    },
    /// The part was sent but is not on the target (deleted there, or never arrived).
    Missing {
        /// The source message.
        origin: MsgRef,
        /// The part.
        part: u32,
        /// The ID it was sent as.
        id: MsgId,
    },
    /// The part is on the target more than once.
    Duplicated {
        /// The source message.
        origin: MsgRef,
        /// The part.
        part: u32,
        /// The extra copies.
        extra: Vec<MsgId>,
    },
    /// The part was edited on the target, not by kbbridge.
    Altered {
        /// The source message.
        origin: MsgRef,
        /// The part.
        part: u32,
        /// Its ID on the target.
        id: MsgId,
    },
    /// The copy stands before the copy of a message that came earlier in the source.
    OutOfOrder {
        /// The source message.
        origin: MsgRef,
        /// Its copy's ID.
        id: MsgId,
    },
    /// Posted by kbbridge, but no source message claims it.
    Unknown {
        /// Its ID on the target.
        id: MsgId,
        /// Its text.
        text: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::NotCopied { origin } => write!(f, "{origin}: not copied"),
            Finding::Interrupted { origin, part } => {
                write!(f, "{origin} part {part}: its send was interrupted")
            }
            Finding::Missing { origin, part, id } => {
                write!(f, "{origin} part {part}: missing on the target (was {id})")
            }
            Finding::Duplicated {
                origin,
                part,
                extra,
            } => {
                let ids: Vec<&str> = extra.iter().map(MsgId::as_str).collect();
                write!(f, "{origin} part {part}: also posted as {}", ids.join(", "))
            }
            Finding::Altered { origin, part, id } => {
                write!(f, "{origin} part {part}: edited on the target ({id})")
            }
            Finding::OutOfOrder { origin, id } => {
                write!(f, "{origin}: its copy {id} is out of order")
            }
            Finding::Unknown { id, text } => {
                let short: String = text.chars().take(60).collect();
                write!(
                    f,
                    "{id}: posted by kbbridge, from no source message ({short:?})"
                )
            }
        }
    }
}

/// What the comparison of one target chat found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    /// Source messages compared.
    pub messages: u64,
    /// Their parts found on the target as they should be.
    pub parts_ok: u64,
    /// Messages not copied on purpose (rejected by the target, recorded as such).
    pub rejected: u64,
    /// Messages copied with a note in place of some file, on purpose.
    pub degraded: u64,
    /// Everything wrong, in source order (then the unknown posts).
    pub findings: Vec<Finding>,
}

impl Verification {
    /// Whether the copy is complete and untouched.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Why a chat could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The mapping store failed.
    #[error("mapping store")]
    Store(#[from] StoreError),
    /// The source could not be read.
    #[error("reading the source {0}")]
    Source(ChatRef, #[source] AdapterError),
    /// The target could not be read back.
    #[error("reading {0} back")]
    Target(ChatRef, #[source] AdapterError),
}

/// Compares `to` with the source chat `from` and the store.
///
/// # Errors
/// [`VerifyError`] when one of the three cannot be read.
pub async fn verify(
    store: &MappingStore,
    source: &dyn HistorySource,
    from: &ChatRef,
    sink: &dyn Sink,
    to: &ChatRef,
) -> Result<Verification, VerifyError> {
    let posted = sink
        .read_back(&to.chat)
        .await
        .map_err(|e| VerifyError::Target(to.clone(), e))?;
    let position: HashMap<&MsgId, usize> =
        posted.iter().enumerate().map(|(i, p)| (&p.id, i)).collect();
    let mut by_source: HashMap<(&MsgRef, u32), Vec<&Posted>> = HashMap::new();
    for p in posted.iter().filter(|p| !p.gone) {
        if let Some((origin, part)) = &p.source {
            by_source.entry((origin, *part)).or_default().push(p);
        }
    }
    let mut result = Verification::default();
    let mut claimed: HashSet<MsgId> = HashSet::new();
    // The text of each copy part found, for posts that say nothing of their source.
    let mut texts: HashMap<&str, (MsgRef, u32)> = HashMap::new();
    let mut last_position: Option<usize> = None;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = source
            .page(&from.chat, cursor.as_ref(), PAGE)
            .await
            .map_err(|e| VerifyError::Source(from.clone(), e))?;
        for msg in &page.messages {
            result.messages += 1;
            let rows = store.copies(&msg.origin, to).await?;
            if rows.is_empty() {
                result.findings.push(Finding::NotCopied {
                    origin: msg.origin.clone(),
                });
                continue;
            }
            if rows.iter().any(|r| r.state == CopyState::Rejected) {
                result.rejected += 1;
            }
            if rows
                .iter()
                .any(|r| r.part == 0 && r.detail.is_some() && r.state == CopyState::Sent)
            {
                result.degraded += 1;
            }
            let edited_here = store
                .text_layout(&msg.origin, to)
                .await?
                .is_some_and(|l| l.edited_at.is_some());
            for row in &rows {
                let Some(id) = row.msg.as_ref().filter(|_| row.state == CopyState::Sent) else {
                    if row.state == CopyState::Pending {
                        result.findings.push(Finding::Interrupted {
                            origin: msg.origin.clone(),
                            part: row.part,
                        });
                    }
                    continue;
                };
                claimed.insert(id.clone());
                let found = position.get(id).map(|&i| (i, &posted[i]));
                match found {
                    None => result.findings.push(Finding::Missing {
                        origin: msg.origin.clone(),
                        part: row.part,
                        id: id.clone(),
                    }),
                    Some((_, p)) if p.gone => result.findings.push(Finding::Missing {
                        origin: msg.origin.clone(),
                        part: row.part,
                        id: id.clone(),
                    }),
                    Some((_, p)) if p.edited && !edited_here => {
                        result.findings.push(Finding::Altered {
                            origin: msg.origin.clone(),
                            part: row.part,
                            id: id.clone(),
                        });
                    }
                    Some((i, p)) => {
                        result.parts_ok += 1;
                        texts
                            .entry(p.text.as_str())
                            .or_insert((msg.origin.clone(), row.part));
                        if row.part == 0 {
                            if last_position.is_some_and(|last| i < last) {
                                result.findings.push(Finding::OutOfOrder {
                                    origin: msg.origin.clone(),
                                    id: id.clone(),
                                });
                            }
                            last_position = Some(i);
                        }
                    }
                }
                let extra: Vec<MsgId> = by_source
                    .get(&(&msg.origin, row.part))
                    .into_iter()
                    .flatten()
                    .filter(|p| &p.id != id)
                    .map(|p| p.id.clone())
                    .collect();
                if !extra.is_empty() {
                    claimed.extend(extra.iter().cloned());
                    result.findings.push(Finding::Duplicated {
                        origin: msg.origin.clone(),
                        part: row.part,
                        extra,
                    });
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for p in &posted {
        if !p.ours || p.gone || claimed.contains(&p.id) {
            continue;
        }
        let twin = (!p.text.is_empty())
            .then(|| texts.get(p.text.as_str()))
            .flatten();
        let finding = match twin {
            Some((origin, part)) => Finding::Duplicated {
                origin: origin.clone(),
                part: *part,
                extra: vec![p.id.clone()],
            },
            None => Finding::Unknown {
                id: p.id.clone(),
                text: p.text.clone(),
            },
        };
        result.findings.push(finding);
    }
    Ok(result)
}

#[cfg(test)]
mod tests;
