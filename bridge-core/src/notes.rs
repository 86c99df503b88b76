//! The notes a sink leaves in place of files it could not copy, for [`Sink::degraded`].
//!
//! Most files a sink leaves out are known before sending (unavailable in the export, over a
//! known size limit), and it works them out from the message alone. Some are found out only
//! while sending (a file that cannot be read, a limit the target announces in its refusal):
//! the sink records those here, so that `degraded` reports them as well.
//!
//! [`Sink::degraded`]: crate::Sink::degraded

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use crate::model::{Attachment, Message};

/// Notes for files found unusable only while sending, by (source message, attachment index).
#[derive(Debug, Default)]
pub struct LateNotes(Mutex<HashMap<(String, usize), String>>);

impl LateNotes {
    /// Records that attachment `index` of `msg` was left out while sending, with its note.
    pub fn record(&self, msg: &Message, index: usize, note: String) {
        // A poisoned map only means a panic elsewhere; its notes are still right.
        let mut notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        notes.insert((msg.origin.to_string(), index), note);
    }

    /// The note for each attachment of `msg` the sink leaves out: `left_out` says why for those
    /// known before sending (the note is made from it), the recorded ones cover the rest.
    pub fn degraded(
        &self,
        msg: &Message,
        left_out: impl Fn(&Attachment) -> Option<String>,
    ) -> Vec<String> {
        let notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let origin = msg.origin.to_string();
        msg.content
            .attachments
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                left_out(a)
                    .map(|why| a.not_copied(&why))
                    .or_else(|| notes.get(&(origin.clone(), i)).cloned())
            })
            .collect()
    }
}
