//! Which Keybase channel a chat is written to: the one its name says, or, for a chat renamed on
//! Keybase since its link was written, the channel it has now.

use bridge_core::ChatId;

use super::KeybaseSink;
use crate::cli::requests::ChatChannel;

impl KeybaseSink {
    /// Writes to `chat` go to the channel `now`: the chat was renamed on Keybase since its link
    /// was written (the live side finds it again by its conversation id).
    pub fn follow_rename(&self, chat: &ChatId, now: ChatChannel) {
        self.renamed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(chat.clone(), now);
    }

    /// The channel `chat` is written to.
    pub(super) fn channel(&self, chat: &ChatId) -> ChatChannel {
        let renamed = self
            .renamed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        renamed
            .get(chat)
            .cloned()
            .unwrap_or_else(|| channel_of(chat))
    }
}

/// The Keybase channel of a chat as kbbridge names it (`acme#general`, `alice,bob`).
pub fn channel_of(chat: &ChatId) -> ChatChannel {
    match chat.as_str().split_once('#') {
        Some((team, topic)) => ChatChannel {
            name: team.to_owned(),
            members_type: "team".to_owned(),
            topic_type: "chat".to_owned(),
            topic_name: topic.to_owned(),
        },
        None => ChatChannel {
            name: chat.as_str().to_owned(),
            members_type: "impteamnative".to_owned(),
            topic_type: "chat".to_owned(),
            topic_name: String::new(),
        },
    }
}
