//! [`DiscordSource`]: Discord's live events (messages, edits, deletes, reactions) of the
//! relayed channels, from the gateway, in the gateway's order.
//!
//! - `gateway.rs`: the connection (identify, resume, heartbeats, close codes);
//!   `protocol.rs`: its payloads and close codes;
//! - `deliver.rs`: the feed → the relay, one channel at a time in order;
//!   `catch_up.rs`: the messages a new session missed;
//! - `saved.rs`: the session kept in the store, resumed by the next start (`resume.rs`) up to
//!   the events the relay applied (`acks.rs`);
//! - `events.rs`: serenity's events → [`bridge_core::Incoming`]; `files.rs`: attachments;
//!   `reaction_now.rs`: each reaction event settled against Discord's state now;
//! - `channels.rs`: [`KnownChannels`], the channels relayed.

use std::{sync::Arc, time::Duration};

use bridge_core::{AdapterError, relay::Queued};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::DiscordSink;

mod acks;
mod catch_up;
mod channels;
mod deliver;
mod events;
mod files;
mod gateway;
mod mentions;
mod protocol;
mod reaction_now;
mod resume;
mod saved;

pub use channels::KnownChannels;

/// How long delivery may take to stop (it saves the session last) once the connection ended.
const FINISH: Duration = Duration::from_secs(5);

/// Timings of the live source.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// The first wait after a failed connection or read, doubled on each failure.
    pub min_backoff: Duration,
    /// The longest such wait.
    pub max_backoff: Duration,
    /// The wait before identifying again after Discord ended the session (op 9 `false`):
    /// Discord asks for 1 to 5 seconds.
    pub reidentify_delay: Duration,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            reidentify_delay: Duration::from_secs(3),
        }
    }
}

/// The Discord live source. It shares the sink's HTTP client, rate limiter and store, so the
/// catch-up's reads are paced with the sink's writes and kbbridge's own webhook messages are
/// known by the webhook IDs the sink recorded.
pub struct DiscordSource {
    sink: Arc<DiscordSink>,
    channels: KnownChannels,
    options: SourceOptions,
    /// Whether a session is up and its channels caught up (see [`DiscordSource::following`]).
    following: watch::Sender<bool>,
}

impl DiscordSource {
    /// A source of `channels`' events, through `sink`'s client.
    pub fn new(sink: Arc<DiscordSink>, channels: KnownChannels) -> Self {
        Self::with_options(sink, channels, SourceOptions::default())
    }

    /// A source with explicit timings.
    pub fn with_options(
        sink: Arc<DiscordSink>,
        channels: KnownChannels,
        options: SourceOptions,
    ) -> Self {
        Self {
            sink,
            channels,
            options,
            following: watch::Sender::new(false),
        }
    }

    /// Becomes `true` once the first session is up (READY, or RESUMED of the last run's
    /// session) and every known channel is caught up (or has its starting position recorded):
    /// from then on, what is said in them is relayed.
    /// A service waits for it before it says it relays.
    pub fn following(&self) -> watch::Receiver<bool> {
        self.following.subscribe()
    }

    /// The channels relayed (a clone shares them).
    pub fn channels(&self) -> &KnownChannels {
        &self.channels
    }

    /// Pushes the relayed channels' events into `out` until `shutdown` is cancelled or `out`
    /// is closed: connecting, resuming or identifying again as Discord says, and after every
    /// new session (READY) catching each channel up from its stored live position. The
    /// session is saved in the store as far as the relay has applied its events (every
    /// event is handed over with [`Queued::acked`]); the next run resumes it first, so Discord
    /// replays what happened while kbbridge was down, edits, deletes and reactions included
    /// (refused: a new session and the catch-up). Shutting down leaves the session resumable
    /// (it closes with 4000, not 1000). Events of
    /// one channel arrive in the gateway's order; kbbridge's own (its webhook's messages, the
    /// bot's messages and reactions) are marked `own`. Someone else's reaction event is handed
    /// over as Discord has that reaction when the event is handled (one read of it): an add
    /// no longer true comes as a removal, so a removal delivered before its reaction leaves
    /// none on the other sides.
    ///
    /// # Errors
    /// [`AdapterError::Fatal`] when Discord refuses the token (close 4004), the intents (4014:
    /// the Message Content intent is not enabled for the bot) or the connection for another
    /// reason only the operator can fix (4010–4013), or `GET /gateway` fails for good.
    pub async fn run(
        &self,
        out: mpsc::Sender<Queued>,
        shutdown: CancellationToken,
    ) -> Result<(), AdapterError> {
        let stop = shutdown.child_token();
        let token = protocol::bare_token(self.sink.rest.token());
        let resume = match saved::load(&self.sink.store, self.sink.guild, token).await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot read the saved gateway session; identifying anew");
                None
            }
        };
        let session = resume.as_ref().map(|s| gateway::Session {
            id: s.id.clone(),
            seq: s.seq,
            resume_url: s.url.clone(),
        });
        let (feed_tx, feed_rx) = mpsc::unbounded_channel();
        let connection = gateway::run(&self.sink.rest, &self.options, feed_tx, &stop, session);
        let deliver = deliver::Deliver::new(&self.sink, &self.channels, &out, &self.options, &stop)
            .run(feed_rx, &self.following, resume);
        tokio::pin!(deliver);
        let result = tokio::select! {
            r = connection => {
                // Delivery stops too, saving the session as far as the relay applied it.
                stop.cancel();
                match tokio::time::timeout(FINISH, &mut deliver).await {
                    Ok(d) => r.and(d),
                    Err(_) => r,
                }
            }
            r = &mut deliver => r,
        };
        stop.cancel();
        result
    }
}
