//! The chats each live side takes events from: a link added while relaying (a reload, a
//! channel created on Keybase) joins them, so its Matrix room's and Discord channel's events
//! are read from then on.

use adapter_discord::KnownChannels;
use adapter_matrix::appservice::KnownRooms;
use bridge_core::{ChatRef, Platform};
use tracing::warn;

/// The rooms and channels the running live sides follow.
#[derive(Clone, Default)]
pub struct LiveChats {
    /// The Matrix rooms the appservice listener takes events from, when it runs.
    pub rooms: Option<KnownRooms>,
    /// The Discord channels the gateway source takes events from, when it runs.
    pub channels: Option<KnownChannels>,
}

impl LiveChats {
    /// Whether a live side reads `platform` (Keybase is followed by its own feed).
    pub fn reads(&self, platform: Platform) -> bool {
        match platform {
            Platform::Matrix => self.rooms.is_some(),
            Platform::Discord => self.channels.is_some(),
            Platform::Keybase => true,
        }
    }

    /// Follows the Matrix and Discord chats among `chats`.
    pub fn follow<'a>(&self, chats: impl IntoIterator<Item = &'a ChatRef>) {
        for chat in chats {
            match chat.platform {
                Platform::Matrix => {
                    if let Some(rooms) = &self.rooms {
                        rooms.insert(&chat.chat);
                    }
                }
                Platform::Discord => match (&self.channels, channel_id(chat)) {
                    (Some(channels), Some(id)) => {
                        channels.insert(id);
                    }
                    (Some(_), None) => {
                        warn!(chat = %chat, "not a Discord channel ID; its events are not read");
                    }
                    _ => {}
                },
                Platform::Keybase => {}
            }
        }
    }
}

/// The channel ID of a Discord chat (a snowflake).
pub fn channel_id(chat: &ChatRef) -> Option<u64> {
    chat.chat.as_str().parse().ok()
}
