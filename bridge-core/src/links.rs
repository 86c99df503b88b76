//! Links: which chats mirror each other, and what kbbridge does with each.
//!
//! Built by `bridge-config` from the mapping file's `[[link]]` tables; the engines only read it.

use crate::ids::{ChatRef, Platform};

/// What to do with a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// Replay the source's history into the targets, once.
    Backfill,
    /// Relay live events between the chats both ways.
    Relay,
    /// Backfill first, then relay.
    Both,
    /// Nothing: the chat is left out of a pattern that names it (`mode = "skip"`).
    Skip,
}

impl LinkMode {
    /// Whether this mode includes a backfill.
    pub fn backfills(self) -> bool {
        matches!(self, LinkMode::Backfill | LinkMode::Both)
    }

    /// Whether this mode includes a live relay.
    pub fn relays(self) -> bool {
        matches!(self, LinkMode::Relay | LinkMode::Both)
    }
}

/// A named group of chats on different platforms that mirror each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The operator's name for it (unique), used in logs and `--link` filters.
    pub name: String,
    /// The history source of a backfill (the Keybase chat).
    pub source: ChatRef,
    /// The chats the source is copied into (at most one per platform).
    pub targets: Vec<ChatRef>,
    /// What to do with it.
    pub mode: LinkMode,
}

impl Link {
    /// The target on `platform`, if the link has one.
    pub fn target(&self, platform: Platform) -> Option<&ChatRef> {
        self.targets.iter().find(|t| t.platform == platform)
    }

    /// The other chats of the link, seen from `chat` (for the relay).
    pub fn others<'a>(&'a self, chat: &'a ChatRef) -> impl Iterator<Item = &'a ChatRef> + 'a {
        std::iter::once(&self.source)
            .chain(&self.targets)
            .filter(move |c| *c != chat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_excludes_the_asking_chat() {
        let link = Link {
            name: "general".into(),
            source: ChatRef::new(Platform::Keybase, "acme#general"),
            targets: vec![
                ChatRef::new(Platform::Discord, "1"),
                ChatRef::new(Platform::Matrix, "!r:x"),
            ],
            mode: LinkMode::Both,
        };
        let from = ChatRef::new(Platform::Discord, "1");
        let others: Vec<_> = link.others(&from).map(|c| c.platform).collect();
        assert_eq!(others, vec![Platform::Keybase, Platform::Matrix]);
        assert_eq!(link.target(Platform::Matrix).unwrap().chat.as_str(), "!r:x");
        assert!(link.mode.backfills() && link.mode.relays());
    }
}
