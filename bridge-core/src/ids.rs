//! Identifiers, opaque to the core.
//!
//! Only the adapter that owns a platform builds or parses its IDs (a Keybase `team#channel`, a
//! Discord snowflake, a Matrix `!room:server`). The core compares, stores and logs them, nothing
//! more. They are persisted as-is in the mapping store, so changing an adapter's ID format is a
//! data migration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A chat platform kbbridge can read from or write to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Keybase chat (exports and the live `keybase chat api`).
    Keybase,
    /// Discord (REST API and gateway).
    Discord,
    /// Matrix (as an application service).
    Matrix,
}

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 3] = [Platform::Keybase, Platform::Discord, Platform::Matrix];

    /// The lowercase name used in the store, the config file and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Keybase => "keybase",
            Platform::Discord => "discord",
            Platform::Matrix => "matrix",
        }
    }

    /// Parses the name written by [`Platform::as_str`].
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an adapter-made identifier.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as the adapter wrote it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

opaque_id!(
    /// A conversation on one platform: `team#channel`, a channel snowflake, `!room:server`.
    ChatId
);
opaque_id!(
    /// A message within one chat. Keybase message IDs are only unique per conversation, so a
    /// message is always addressed together with its chat ([`MsgRef`]).
    MsgId
);
opaque_id!(
    /// A user on one platform.
    UserId
);
opaque_id!(
    /// A position in a chat's history, persisted as-is so a backfill can resume after it.
    Cursor
);

/// A chat on a given platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatRef {
    /// The platform the chat lives on.
    pub platform: Platform,
    /// The chat's ID on that platform.
    pub chat: ChatId,
}

impl ChatRef {
    /// A chat on `platform`.
    pub fn new(platform: Platform, chat: impl Into<ChatId>) -> Self {
        Self {
            platform,
            chat: chat.into(),
        }
    }

    /// The message `msg` in this chat.
    pub fn msg(&self, msg: impl Into<MsgId>) -> MsgRef {
        MsgRef {
            platform: self.platform,
            chat: self.chat.clone(),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ChatRef {
    /// `platform:chat`, for logs only: never parse it (Matrix room IDs contain `:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.chat)
    }
}

/// A message, fully addressed: platform, chat and message ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MsgRef {
    /// The platform the message lives on.
    pub platform: Platform,
    /// The chat the message lives in.
    pub chat: ChatId,
    /// The message's ID within that chat.
    pub msg: MsgId,
}

impl MsgRef {
    /// The chat this message belongs to.
    pub fn chat_ref(&self) -> ChatRef {
        ChatRef {
            platform: self.platform,
            chat: self.chat.clone(),
        }
    }
}

impl fmt::Display for MsgRef {
    /// `platform:chat:msg`, for logs only: never parse it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.platform, self.chat, self.msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("slack"), None);
    }

    #[test]
    fn refs_display_for_logs() {
        let room = ChatRef::new(Platform::Matrix, "!abc:example.org");
        assert_eq!(room.msg("$ev").to_string(), "matrix:!abc:example.org:$ev");
    }
}
