//! The Discord live side: serenity's gateway over the Discord sink's own HTTP client, its
//! events handed to the relay (kbbridge's own webhook and bot messages marked as its own).

use std::sync::Arc;

use adapter_discord::{DiscordSink, DiscordSource, KnownChannels};
use anyhow::Context;
use bridge_core::{ChatRef, Platform, relay::Queued};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use super::chats::channel_id;

/// The running Discord side.
pub struct DiscordLive {
    /// Ends on shutdown, or with why the gateway could not go on (a bad token, an intent the
    /// application lacks).
    pub task: JoinHandle<anyhow::Result<()>>,
    /// The channels it takes events from (channels of links added later join them).
    pub channels: KnownChannels,
    /// `true` once a session is up and the channels are caught up.
    pub following: watch::Receiver<bool>,
}

impl DiscordLive {
    /// Waits until the gateway follows the channels; an error when it stopped first (a bad
    /// token, a missing intent).
    ///
    /// # Errors
    /// Why the Discord side stopped.
    pub async fn wait_following(&mut self) -> anyhow::Result<()> {
        let seen = tokio::select! {
            done = &mut self.task => return Err(ended(done)),
            seen = self.following.wait_for(|up| *up) => seen.is_ok(),
        };
        if seen {
            return Ok(());
        }
        // The source is gone (its watch with it): why is in its task's end.
        Err(ended((&mut self.task).await))
    }
}

/// Why the Discord side's task ended.
fn ended(done: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match done {
        Ok(Ok(())) => anyhow::anyhow!("the Discord gateway stopped"),
        Ok(Err(e)) => e,
        Err(e) => anyhow::anyhow!("the Discord side failed: {e}"),
    }
}

/// Connects to the gateway and hands the events of the Discord channels among `chats` to
/// `out`, each channel caught up after its stored position at every new session.
pub fn start_discord(
    sink: &Arc<DiscordSink>,
    chats: &[ChatRef],
    out: mpsc::Sender<Queued>,
    shutdown: CancellationToken,
) -> DiscordLive {
    let channels = KnownChannels::new(
        chats
            .iter()
            .filter(|c| c.platform == Platform::Discord)
            .filter_map(channel_id),
    );
    let source = DiscordSource::new(Arc::clone(sink), channels.clone());
    let following = source.following();
    let task = tokio::spawn(async move {
        source
            .run(out, shutdown)
            .await
            .context("the Discord gateway stopped")
    });
    DiscordLive {
        task,
        channels,
        following,
    }
}
