//! The chats of each relaying link, its targets resolved ("auto" found or made, a named chat
//! checked and canonicalised) exactly as a backfill job resolves them, so both write to the
//! same chat.

use std::{collections::BTreeMap, sync::Arc};

use adapter_discord::DiscordSink;
use adapter_keybase::{KeybaseExport, export::chat_info, sink::KeybaseSink};
use adapter_matrix::MatrixSink;
use anyhow::Context;
use bridge_config::Config;
use bridge_core::{
    MappingStore, Platform, Report, Sink, backfill::Backfill, links::Link, relay::RelayLink,
};
use tracing::warn;

use crate::wiring;

/// The sinks the relay writes with, kept concrete where the live side needs more of them.
#[derive(Clone)]
pub struct LiveSinks {
    /// Writes into Keybase (its `chat api` process is shared with the Keybase feed).
    pub keybase: Arc<KeybaseSink>,
    /// Writes into Matrix, when a link has a Matrix side.
    pub matrix: Option<Arc<MatrixSink>>,
    /// Writes into Discord, when a link has a Discord side (its gateway reads with the same
    /// HTTP client).
    pub discord: Option<Arc<DiscordSink>>,
}

impl LiveSinks {
    /// The sinks the relaying `links` need.
    ///
    /// # Errors
    /// When a section the links need is missing or a sink cannot be built.
    pub fn build(config: &Config, links: &[&Link], store: &MappingStore) -> anyhow::Result<Self> {
        let section = config.keybase.clone().unwrap_or_default();
        let keybase = KeybaseSink::new(&section)
            .map_err(anyhow::Error::msg)
            .context("cannot set up writing to Keybase; check the [keybase] section")?;
        let matrix = if links.iter().any(|l| l.target(Platform::Matrix).is_some()) {
            let section = config
                .matrix
                .as_ref()
                .context("links relay to Matrix but the mapping file has no [matrix] section")?;
            let sink = MatrixSink::new(section, store.clone())
                .context("cannot set up the Matrix sink; check the [matrix] section")?;
            Some(Arc::new(sink))
        } else {
            None
        };
        let discord = if links.iter().any(|l| l.target(Platform::Discord).is_some()) {
            let section = config
                .discord
                .as_ref()
                .context("links relay to Discord but the mapping file has no [discord] section")?;
            let sink = DiscordSink::new(section, store.clone())
                .context("cannot set up the Discord sink; check the [discord] section")?;
            Some(Arc::new(sink))
        } else {
            None
        };
        Ok(Self {
            keybase: Arc::new(keybase),
            matrix,
            discord,
        })
    }

    /// The sinks by platform, as the relay engine takes them.
    pub fn by_platform(&self) -> BTreeMap<Platform, Arc<dyn Sink>> {
        let mut sinks: BTreeMap<Platform, Arc<dyn Sink>> = BTreeMap::new();
        sinks.insert(Platform::Keybase, self.keybase.clone());
        if let Some(matrix) = &self.matrix {
            sinks.insert(Platform::Matrix, matrix.clone());
        }
        if let Some(discord) = &self.discord {
            sinks.insert(Platform::Discord, discord.clone());
        }
        sinks
    }

    fn sink(&self, platform: Platform) -> Option<&dyn Sink> {
        match platform {
            Platform::Matrix => self.matrix.as_deref().map(|s| s as &dyn Sink),
            Platform::Keybase => Some(self.keybase.as_ref()),
            Platform::Discord => self.discord.as_deref().map(|s| s as &dyn Sink),
        }
    }
}

/// The relaying links with their chats: the Keybase chat, then each target the relay serves,
/// resolved. A link whose target cannot be set up is left out with an error logged (the
/// others go on), and so is a target on a platform no sink was built for (a link added by a
/// reload while no link wrote there), with a warning: it is relayed from the next start.
///
/// # Errors
/// When the store fails.
pub async fn resolve_links(
    config: &Config,
    links: &[&Link],
    store: &MappingStore,
    sinks: &LiveSinks,
    export: Option<&KeybaseExport>,
) -> anyhow::Result<Vec<RelayLink>> {
    let engine = Backfill::new(store.clone(), config.backfill.clone());
    let mut resolved = Vec::new();
    for link in links {
        let name: Arc<str> = link.name.as_str().into();
        let info = export
            .and_then(|e| e.describe_chat(&link.source.chat))
            .unwrap_or_else(|| chat_info::describe(&link.source.chat, None));
        let mut chats = vec![link.source.clone()];
        for target in &link.targets {
            let Some(sink) = sinks.sink(target.platform) else {
                warn!(link = %name, to = %target,
                    "nothing writes to this platform in the running relay (no link did at \
                     start); this side of the link is relayed from the next start");
                continue;
            };
            match engine
                .set_up(&name, &info, sink, &wiring::job_target(target))
                .await
            {
                Ok(chat) => chats.push(chat),
                Err(e) => {
                    tracing::error!(link = %name, to = %target, error = %Report::new(&e),
                        next = e.advice(), "cannot set up this link's target; it is not relayed");
                }
            }
        }
        if chats.len() > 1 {
            resolved.push(RelayLink { name, chats });
        }
    }
    Ok(resolved)
}
