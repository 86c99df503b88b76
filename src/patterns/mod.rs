//! Pattern links (`keybase = "acme#*"`, `"direct:*"`) expanded into one link per chat, against
//! the chats the export has (or, without an export, the chats the Keybase client lists).
//!
//! A chat a pattern names becomes a link of its own, named `<pattern link>/<chat>`, with the
//! pattern link's targets (always "auto") and mode. A link naming the chat itself decides for
//! it instead: its own targets, its own mode, or `mode = "skip"` to leave it out. Where two
//! patterns name one chat (`acme#*` and `acme.ops#*`), the narrower takes it. Skip links are
//! removed once applied.

use std::collections::{BTreeMap, BTreeSet};

use adapter_keybase::{config::ChatPattern, live::all_chats};
use anyhow::Context;
use bridge_config::{Config, LinkConfig};
use bridge_core::{ChatId, links::LinkMode};
use tracing::{info, warn};

use crate::wiring;

/// What one pattern link became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    /// The pattern link's name.
    pub link: String,
    /// Its pattern.
    pub pattern: ChatPattern,
    /// The chats it took, in name order.
    pub chats: Vec<ChatId>,
    /// The pattern link itself, to expand chats that appear later.
    pub template: LinkConfig,
}

/// The chats every link names explicitly (a pattern never takes them), before expansion.
pub fn explicit_chats(config: &Config) -> BTreeSet<ChatId> {
    config
        .links
        .iter()
        .filter(|l| l.pattern.is_none())
        .map(|l| l.link.source.chat.clone())
        .collect()
}

/// The template among `templates` that takes `chat`: the narrowest pattern naming it.
pub fn taker<'a>(templates: &'a [LinkConfig], chat: &ChatId) -> Option<&'a LinkConfig> {
    templates
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((i, l, l.pattern.as_ref()?)))
        .filter(|(_, _, p)| p.matches(chat))
        .max_by_key(|(i, _, p)| (p.depth(), std::cmp::Reverse(*i)))
        .map(|(_, l, _)| l)
}

/// What the expansion of a mapping file did.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    /// Each pattern link and the chats it took.
    pub patterns: Vec<Expanded>,
    /// The chats links name one by one (`mode = "skip"` ones included): no pattern takes them,
    /// now or when they appear later.
    pub reserved: BTreeSet<ChatId>,
}

/// Expands the pattern links of `config` in place; what each became.
///
/// # Errors
/// When the chats cannot be listed: the export cannot be read, or (without an export) the
/// Keybase client cannot be asked.
pub async fn expand_links(config: &mut Config) -> anyhow::Result<Expansion> {
    let reserved = explicit_chats(config);
    let has_patterns = config.links.iter().any(|l| l.pattern.is_some());
    if !has_patterns {
        config.links.retain(|l| l.link.mode != LinkMode::Skip);
        return Ok(Expansion {
            patterns: Vec::new(),
            reserved,
        });
    }
    let chats = available_chats(config).await?;
    let patterns = expand(config, &chats);
    Ok(Expansion { patterns, reserved })
}

/// The chats patterns are expanded against.
async fn available_chats(config: &Config) -> anyhow::Result<Vec<ChatId>> {
    if config.keybase.as_ref().is_some_and(|k| k.export.is_some()) {
        let export = wiring::open_export(config)?;
        return Ok(export.chats().iter().map(|c| c.chat.clone()).collect());
    }
    let section = config.keybase.clone().unwrap_or_default();
    let cli = adapter_keybase::cli::KeybaseCli::from_config(&section);
    let teams: BTreeSet<String> = config
        .links
        .iter()
        .filter_map(|l| match &l.pattern {
            Some(ChatPattern::Team(team)) => Some(team.split('.').next()?.to_owned()),
            _ => None,
        })
        .collect();
    let mut api = cli.chat_api();
    all_chats(&mut api, &teams).await.context(
        "cannot list the Keybase chats a pattern link names (no `keybase.export` is set, so \
         the keybase client was asked); is the client running and logged in?",
    )
}

/// Expands against `chats`.
pub fn expand(config: &mut Config, chats: &[ChatId]) -> Vec<Expanded> {
    let explicit = explicit_chats(config);
    // Each chat to the narrowest pattern naming it (the first in file order among equals).
    let mut taken: BTreeMap<ChatId, usize> = BTreeMap::new();
    for chat in chats.iter().filter(|c| !explicit.contains(*c)) {
        let best = config
            .links
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((i, l.pattern.as_ref()?)))
            .filter(|(_, p)| p.matches(chat))
            .max_by_key(|(i, p)| (p.depth(), std::cmp::Reverse(*i)));
        if let Some((i, _)) = best {
            taken.insert(chat.clone(), i);
        }
    }
    let mut report = Vec::new();
    let mut links: Vec<LinkConfig> = Vec::new();
    for (i, link) in config.links.iter().enumerate() {
        match &link.pattern {
            None if link.link.mode == LinkMode::Skip => {
                info!(link = %link.link.name, chat = %link.link.source, "chat left out (mode = \"skip\")");
            }
            None => links.push(link.clone()),
            Some(pattern) => {
                let mine: Vec<ChatId> = taken
                    .iter()
                    .filter(|(_, owner)| **owner == i)
                    .map(|(chat, _)| chat.clone())
                    .collect();
                if mine.is_empty() {
                    warn!(link = %link.link.name, pattern = %pattern,
                        "this pattern names no chat (none in the export, or each one named by \
                         another link)");
                } else {
                    info!(link = %link.link.name, pattern = %pattern, chats = mine.len(),
                        "pattern expanded");
                }
                links.extend(mine.iter().map(|chat| link.expand(chat)));
                report.push(Expanded {
                    link: link.link.name.clone(),
                    pattern: pattern.clone(),
                    chats: mine,
                    template: link.clone(),
                });
            }
        }
    }
    config.links = links;
    report
}

#[cfg(test)]
mod tests;
