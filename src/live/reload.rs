//! SIGHUP: the mapping file read again while the relay runs. Its relaying links are compared
//! with the running ones by name: a link no longer there stops (what it applied stays; new
//! events of its chats are not relayed), a new one starts (backfilled first when its mode
//! asks), a changed one does both. A file with problems is refused, every problem logged,
//! and the running links stay as they were. Settings outside `[[link]]` (tokens, addresses)
//! take effect at the next start.

use std::{path::PathBuf, sync::Arc};

use bridge_core::{ChatRef, MappingStore, Platform, links::Link, relay::Relay};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{FeedChange, LiveChats, LiveSinks, resolve_links};
use crate::{commands::backfill, logging::Display, patterns, wiring};

/// What a reload needs of the running relay.
pub struct Reloader {
    /// The mapping file.
    pub path: PathBuf,
    /// `--link` names, if the run was narrowed to some links.
    pub names: Vec<String>,
    /// The store.
    pub store: MappingStore,
    /// The sinks targets are set up with.
    pub sinks: LiveSinks,
    /// The relay.
    pub relay: Arc<Relay>,
    /// The Matrix rooms and Discord channels the other live sides take events from.
    pub chats: LiveChats,
    /// The Keybase feed's changes, when it runs.
    pub feed: Option<mpsc::Sender<FeedChange>>,
    /// How progress is shown (a backfill of an added link).
    pub display: Display,
    /// Stops a backfill of an added link on shutdown.
    pub stop: CancellationToken,
}

/// The relaying links of a file, by name.
fn relaying(config: &bridge_config::Config, names: &[String]) -> anyhow::Result<Vec<Link>> {
    Ok(wiring::select_links(config, names)?
        .into_iter()
        .filter(|l| l.mode.relays())
        .cloned()
        .collect())
}

impl Reloader {
    /// Reads the file again and applies its link changes to the running relay; `running` is
    /// what runs now, updated.
    ///
    /// # Errors
    /// When the file cannot be loaded (nothing is changed then).
    pub async fn reload(&self, running: &mut Vec<Link>) -> anyhow::Result<()> {
        let mut config = wiring::load_config(&self.path)?;
        patterns::expand_links(&mut config).await?;
        let wanted = relaying(&config, &self.names)?;
        let removed: Vec<Link> = running
            .iter()
            .filter(|old| !wanted.contains(old))
            .cloned()
            .collect();
        let added: Vec<Link> = wanted
            .iter()
            .filter(|new| !running.contains(new))
            .cloned()
            .collect();
        if removed.is_empty() && added.is_empty() {
            info!("configuration reloaded: no link changed");
            return Ok(());
        }
        let mut change = FeedChange::default();
        for link in &removed {
            let chats = self.relay.remove_link(&link.name);
            change.remove.extend(
                chats
                    .into_iter()
                    .filter(|c| c.platform == Platform::Keybase),
            );
            info!(link = %link.name, "link stopped");
        }
        let export = match config.keybase.as_ref().and_then(|k| k.export.as_ref()) {
            Some(_) => Some(wiring::open_export(&config)?),
            None => None,
        };
        let mut started = Vec::new();
        for link in &added {
            let unread = link
                .targets
                .iter()
                .find(|t| t.platform != Platform::Keybase && !self.chats.reads(t.platform));
            if let Some(target) = unread {
                warn!(link = %link.name, platform = %target.platform,
                    "a link added with a side on a platform no live side reads yet starts at \
                     the next start");
                continue;
            }
            if link.mode.backfills() {
                let outcomes = backfill::backfill_links(
                    &config,
                    &[link],
                    &self.store,
                    self.display.clone(),
                    self.stop.clone(),
                )
                .await?
                .unwrap_or_default();
                if outcomes.iter().any(|o| o.result.is_err()) {
                    warn!(link = %link.name,
                        "its backfill did not finish; the link is not relayed until a run completes it");
                    continue;
                }
            }
            let resolved = resolve_links(
                &config,
                &[link],
                &self.store,
                &self.sinks,
                export.as_deref(),
            )
            .await?;
            for relay_link in resolved {
                if let Err(e) = self.relay.add_link(&relay_link) {
                    warn!(link = %relay_link.name, error = %e, "link not started");
                    continue;
                }
                self.chats.follow(&relay_link.chats);
                change.add.extend(
                    relay_link
                        .chats
                        .iter()
                        .filter(|c| c.platform == Platform::Keybase)
                        .cloned(),
                );
                info!(link = %relay_link.name, "link started");
                started.push(link.clone());
            }
        }
        // A chat a changed link keeps is followed on: it is both removed and added.
        let kept: Vec<ChatRef> = change
            .remove
            .iter()
            .filter(|c| change.add.contains(c))
            .cloned()
            .collect();
        change.remove.retain(|c| !kept.contains(c));
        change.add.retain(|c| !kept.contains(c));
        if !change.add.is_empty() || !change.remove.is_empty() {
            match &self.feed {
                Some(feed) => {
                    let _ = feed.send(change).await;
                }
                None => warn!(
                    "no Keybase side runs: added links' Keybase chats are followed from the next start"
                ),
            }
        }
        running.retain(|l| !removed.contains(l));
        running.extend(started.iter().cloned());
        info!(
            stopped = removed.len(),
            started = started.len(),
            "configuration reloaded"
        );
        Ok(())
    }
}
