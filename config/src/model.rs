//! Stage two's output: the mapping file, typed and validated.

use std::{collections::BTreeSet, fmt, path::PathBuf};

use adapter_discord::config::DiscordConfig;
use adapter_keybase::config::{ChatPattern, KeybaseConfig};
use adapter_matrix::config::MatrixConfig;
use bridge_core::{ChatId, ChatRef, Platform, backfill::BackfillOptions, links::Link};

/// The value of a link's `discord` or `matrix` key that asks kbbridge to create (or reuse, on
/// later runs) a chat for the link. It stays the target's [`bridge_core::ChatId`] until then.
pub const AUTO: &str = "auto";

/// A loaded, validated mapping file. Paths are absolute, defaults filled in.
///
/// Its `Debug` output is safe to log: tokens print as `***`, and so does the database password.
#[derive(Clone)]
pub struct Config {
    /// The mapping file this came from.
    pub path: PathBuf,
    /// The mapping store's URL: `sqlite://…` (an absolute path) or `postgres://…`.
    pub database_url: String,
    /// `[database] shared`: several kbbridge instances run on this (PostgreSQL) database, each
    /// link relayed by exactly one of them, each platform's listener run by one of them.
    pub shared: bool,
    /// `[keybase]`, if the file has it.
    pub keybase: Option<KeybaseConfig>,
    /// `[discord]`, if the file has it; always there when a link uses Discord.
    pub discord: Option<DiscordConfig>,
    /// `[matrix]`, if the file has it; always there, with homeserver, server name and both
    /// tokens, when a link uses Matrix.
    pub matrix: Option<MatrixConfig>,
    /// `[backfill]`, with the default pace for every platform not set in the file.
    pub backfill: BackfillOptions,
    /// `[admin]`: the admin HTTP listener, when the file has the section.
    pub admin: Option<crate::admin::AdminConfig>,
    /// The `[[link]]` tables, in file order; names are unique.
    pub links: Vec<LinkConfig>,
}

impl Config {
    /// The link called `name`.
    pub fn link(&self, name: &str) -> Option<&LinkConfig> {
        self.links.iter().find(|link| link.name() == name)
    }

    /// Whether any link has a chat on `platform`.
    pub fn uses(&self, platform: Platform) -> bool {
        match platform {
            // Every link's source is a Keybase chat.
            Platform::Keybase => !self.links.is_empty(),
            _ => self
                .links
                .iter()
                .any(|link| link.link.target(platform).is_some()),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("database_url", &crate::database::redact(&self.database_url))
            .field("shared", &self.shared)
            .field("keybase", &self.keybase)
            .field("discord", &self.discord)
            .field("matrix", &self.matrix)
            .field("backfill", &self.backfill)
            .field("admin", &self.admin)
            .field("links", &self.links)
            .finish()
    }
}

/// One validated `[[link]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The link as the engines use it: the Keybase chat as source, then the Discord and Matrix
    /// targets in that order. A target written `"auto"` has the chat ID [`AUTO`] until the
    /// wiring creates or finds its chat.
    pub link: Link,
    /// The platforms whose target was written `"auto"`.
    pub auto: BTreeSet<Platform>,
    /// The chats the link names when its `keybase` is a pattern (`acme#*`, `direct:*`); its
    /// source is then the pattern as written, until the wiring expands it into one link per
    /// chat ([`LinkConfig::expand`]).
    pub pattern: Option<ChatPattern>,
    /// For a link expanded from a pattern: the pattern link's name (`--link` selects the
    /// expansion by it).
    pub group: Option<String>,
}

impl LinkConfig {
    /// The link's name (unique in the file).
    pub fn name(&self) -> &str {
        &self.link.name
    }

    /// Whether the target on `platform` is still to be created or found (`"auto"`).
    pub fn is_auto(&self, platform: Platform) -> bool {
        self.auto.contains(&platform)
    }

    /// Whether `name` selects this link: its own name, or the pattern link it came from.
    pub fn is_named(&self, name: &str) -> bool {
        self.link.name == name || self.group.as_deref() == Some(name)
    }

    /// The link for `chat` that this pattern link stands for: named `<name>/<chat>`, with the
    /// same targets and mode.
    pub fn expand(&self, chat: &ChatId) -> LinkConfig {
        let mut link = self.link.clone();
        link.name = format!("{}/{chat}", self.link.name);
        link.source = ChatRef::new(Platform::Keybase, chat.clone());
        LinkConfig {
            link,
            auto: self.auto.clone(),
            pattern: None,
            group: Some(self.link.name.clone()),
        }
    }

    /// The targets whose chat is known (not `"auto"`).
    pub fn fixed_targets(&self) -> impl Iterator<Item = &ChatRef> {
        self.link
            .targets
            .iter()
            .filter(|t| !self.is_auto(t.platform))
    }
}
