//! The Keybase side kept running, and grown: a channel created on Keybase while kbbridge runs,
//! named by a relaying pattern link (`acme#*`), is linked, its targets made, and relayed from
//! its first message.
//!
//! The account's chats are listed every `[keybase] watch_seconds`; a new one taken by a pattern becomes that
//! pattern's link (`<link>/<chat>`), its targets are set up as any link's are, the relay routes
//! it, and the Keybase feed is restarted with it (its position is stored as 0 first, so the
//! catch-up of the restart reads it from the start).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use adapter_keybase::{KeybaseExport, config::ChatPattern, live::all_chats};
use bridge_config::{Config, LinkConfig};
use bridge_core::{
    ChatId, ChatRef, Cursor, MappingStore,
    relay::{Queued, Relay},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{LiveChats, keybase::KeybaseLive, start_keybase, targets::LiveSinks};
use crate::patterns;

/// Which chats may appear and be linked.
#[derive(Clone, Debug)]
pub struct Growth {
    /// The relaying pattern links.
    pub templates: Vec<LinkConfig>,
    /// Chats never taken by a pattern: named by a link of their own, or already linked.
    pub known: BTreeSet<ChatId>,
}

/// What the Keybase side needs to grow.
pub struct KeybaseSide {
    /// The mapping file.
    pub config: Config,
    /// The store.
    pub store: MappingStore,
    /// The sinks (targets are set up with them).
    pub sinks: LiveSinks,
    /// The relay, which routes new links.
    pub relay: Arc<Relay>,
    /// The Matrix rooms and Discord channels the other live sides take events from.
    pub chats: LiveChats,
    /// The export, for positions.
    pub export: Option<Arc<KeybaseExport>>,
    /// Where events go.
    pub out: mpsc::Sender<Queued>,
    /// Stops everything.
    pub stop: CancellationToken,
}

/// A change of the chats the Keybase feed follows, asked by a reload of the mapping file.
#[derive(Clone, Debug, Default)]
pub struct FeedChange {
    /// Chats to follow from now on.
    pub add: Vec<ChatRef>,
    /// Chats to stop following.
    pub remove: Vec<ChatRef>,
}

/// Runs the Keybase feed of `chats` until it ends (on `side.stop`, or with its error); with
/// `growth`, links the channels that appear meanwhile; follows the changes `changes` asks.
///
/// # Errors
/// The feed's error, or the store's while linking a new channel.
pub async fn keep_keybase(
    side: KeybaseSide,
    mut live: KeybaseLive,
    mut chats: Vec<ChatRef>,
    growth: Option<Growth>,
    mut changes: mpsc::Receiver<FeedChange>,
) -> anyhow::Result<()> {
    let mut growth = growth.filter(|g| !g.templates.is_empty());
    let every = side
        .config
        .keybase
        .as_ref()
        .map_or(30, |k| k.watch_seconds)
        .max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    tick.tick().await;
    let mut open = true;
    loop {
        let changed = tokio::select! {
            done = &mut live.task => return done?,
            _ = tick.tick(), if growth.is_some() => {
                let Some(growth) = growth.as_mut() else { continue };
                match grow(&side, growth).await {
                    Ok(added) if !added.is_empty() => {
                        chats.extend(added);
                        true
                    }
                    Ok(_) => false,
                    Err(e) => {
                        warn!(error = %bridge_core::Report::new(e.as_ref()),
                            "cannot look for new Keybase channels; trying again later");
                        false
                    }
                }
            }
            change = changes.recv(), if open => match change {
                Some(change) => {
                    chats.retain(|c| !change.remove.contains(c));
                    for chat in change.add {
                        if !chats.contains(&chat) {
                            chats.push(chat);
                        }
                    }
                    if let Some(growth) = growth.as_mut() {
                        growth.known.extend(chats.iter().map(|c| c.chat.clone()));
                    }
                    true
                }
                None => {
                    open = false;
                    false
                }
            },
        };
        if !changed {
            continue;
        }
        // The feed restarts with the chats now followed, catching each up from its position.
        live.stop.cancel();
        let _ = (&mut live.task).await;
        live = start_keybase(
            &side.config,
            &side.store,
            &side.sinks.keybase,
            &chats,
            side.export.as_deref(),
            side.out.clone(),
            side.stop.child_token(),
        )
        .await?;
    }
}

/// Links the chats that appeared since `growth` was last looked at; their Keybase chats.
async fn grow(side: &KeybaseSide, growth: &mut Growth) -> anyhow::Result<Vec<ChatRef>> {
    let teams: BTreeSet<String> = growth
        .templates
        .iter()
        .filter_map(|l| match &l.pattern {
            Some(ChatPattern::Team(team)) => Some(team.split('.').next()?.to_owned()),
            _ => None,
        })
        .collect();
    let listed = {
        let api = side.sinks.keybase.api();
        let mut api = api.lock().await;
        all_chats(&mut api, &teams).await?
    };
    let mut added = Vec::new();
    for chat in listed {
        if growth.known.contains(&chat) {
            continue;
        }
        growth.known.insert(chat.clone());
        let Some(template) = patterns::taker(&growth.templates, &chat) else {
            continue;
        };
        let link = template.expand(&chat);
        let resolved = super::resolve_links(
            &side.config,
            &[&link.link],
            &side.store,
            &side.sinks,
            side.export.as_deref(),
        )
        .await?;
        for relay_link in resolved {
            if let Err(e) = side.relay.add_link(&relay_link) {
                warn!(link = %relay_link.name, error = %e, "new channel not relayed");
                continue;
            }
            side.chats.follow(&relay_link.chats);
            // From its first message: everything in it is new.
            side.store
                .save_live_position(&link.link.source, &Cursor::new("0"))
                .await?;
            info!(link = %relay_link.name, chat = %chat, "new Keybase channel linked");
            added.push(link.link.source.clone());
        }
    }
    Ok(added)
}
