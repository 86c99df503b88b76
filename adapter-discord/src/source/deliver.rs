//! The delivery side: takes the gateway's feed in order and hands kbbridge's events to the
//! relay, one channel's events never overtaking each other or its catch-up.
//!
//! It runs beside the connection (which only reads frames and heartbeats), so a slow relay or
//! a long catch-up never delays a heartbeat: meanwhile the feed holds the gateway's events in
//! their order, and the catch-up of a channel is pushed before any of them.
//!
//! Every event goes to the relay with an answer to wait for ([`Queued::acked`]); [`Acks`]
//! follows which gateway sequence numbers are applied, and the session is saved with the last
//! one (`session.rs`) for the next start to resume from.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
};

use backon::{ExponentialBuilder, Retryable};
use bridge_core::{AdapterError, Event, Incoming, Sender, relay::Queued};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::{
    SourceOptions,
    acks::Acks,
    catch_up::{already_caught, hook},
    channels::KnownChannels,
    events::{self, Ours},
    gateway::Feed,
    mentions::GuildNames,
    reaction_now,
    resume::SAVE_EVERY,
    saved::Saved,
};
use crate::DiscordSink;

/// Senders remembered to name people in reaction removals (which carry only an ID).
const NAMES: usize = 10_000;

/// Why delivery stopped.
pub(super) enum Stop {
    /// The relay closed its end, or kbbridge is shutting down.
    Closed,
    /// Something failed for good.
    Failed(AdapterError),
}

impl From<AdapterError> for Stop {
    fn from(e: AdapterError) -> Self {
        Stop::Failed(e)
    }
}

/// The delivery state.
pub(super) struct Deliver<'a> {
    pub(super) sink: &'a DiscordSink,
    pub(super) channels: &'a KnownChannels,
    out: &'a mpsc::Sender<Queued>,
    options: &'a SourceOptions,
    shutdown: &'a CancellationToken,
    /// The bot's user ID, from the last READY (`None`: no session yet).
    pub(super) bot: Option<u64>,
    /// The channels caught up in this session, whose events are relayed.
    pub(super) followed: BTreeSet<u64>,
    /// Per channel, the messages this session's catch-up delivered: the same messages arriving
    /// live right after are not delivered twice.
    pub(super) caught: HashMap<u64, HashSet<u64>>,
    names: HashMap<String, Sender>,
    /// The guild's role and channel names, for mentions of them, and its threads.
    pub(super) guild: GuildNames,
    /// The threads whose messages were said not to be relayed.
    threads_told: HashSet<u64>,
    /// Which of this session's events the relay has applied.
    pub(super) acks: Acks,
    /// The session followed: its ID and resume address (`None`: none yet).
    pub(super) session: Option<(String, String)>,
    /// The session as saved last.
    pub(super) saved: Option<Saved>,
}

impl<'a> Deliver<'a> {
    pub(super) fn new(
        sink: &'a DiscordSink,
        channels: &'a KnownChannels,
        out: &'a mpsc::Sender<Queued>,
        options: &'a SourceOptions,
        shutdown: &'a CancellationToken,
    ) -> Self {
        Self {
            sink,
            channels,
            out,
            options,
            shutdown,
            bot: None,
            followed: BTreeSet::new(),
            caught: HashMap::new(),
            names: HashMap::new(),
            guild: GuildNames::default(),
            threads_told: HashSet::new(),
            acks: Acks::default(),
            session: None,
            saved: None,
        }
    }

    /// Delivers until the feed ends, the relay closes its end or `shutdown`. `resume`: the
    /// session of an earlier run the connection resumes, whose replay follows.
    pub(super) async fn run(
        mut self,
        mut feed: mpsc::UnboundedReceiver<Feed>,
        following: &watch::Sender<bool>,
        resume: Option<Saved>,
    ) -> Result<(), AdapterError> {
        let mut save = tokio::time::interval(SAVE_EVERY);
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let first = match resume {
            Some(saved) => self.resuming(saved).await,
            None => Ok(()),
        };
        let step = match first {
            Err(stop) => stop,
            Ok(()) => loop {
                let step = tokio::select! {
                    biased;
                    () = self.shutdown.cancelled() => Err(Stop::Closed),
                    // A link added or removed: before more events, so a new channel's first
                    // live events find it followed.
                    () = self.channels.changed() => self.sync().await,
                    _ = save.tick() => {
                        self.save().await;
                        Ok(())
                    }
                    item = feed.recv() => match item {
                        None => Err(Stop::Closed),
                        Some(item) => self.feed(item, following).await,
                    },
                };
                if let Err(stop) = step {
                    break stop;
                }
            },
        };
        // What the relay applied so far, for the next start (what it applies after this is
        // replayed then, harmlessly).
        self.save().await;
        match step {
            Stop::Closed => Ok(()),
            Stop::Failed(e) => Err(e),
        }
    }

    /// One item of the gateway's feed.
    async fn feed(&mut self, item: Feed, following: &watch::Sender<bool>) -> Result<(), Stop> {
        match item {
            Feed::Ready {
                seq,
                bot,
                session,
                url,
            } => {
                // A new session: what happened since the last one is only in the channels'
                // history.
                self.bot = Some(bot);
                self.followed.clear();
                self.caught.clear();
                self.acks = Acks::default();
                self.acks.frame(seq);
                self.session = Some((session, url));
                let synced = self.sync().await;
                if synced.is_ok() {
                    following.send_replace(true);
                }
                // Saved at once, not at the next tick: until then a crash would lose what
                // happens meanwhile to a new session.
                self.save().await;
                synced
            }
            Feed::Resumed { seq } => {
                // The replay before it covered the gap (a resume at start followed every
                // channel before the replay came).
                self.acks.frame(seq);
                following.send_replace(true);
                Ok(())
            }
            Feed::Event { seq, event } => {
                self.acks.frame(seq);
                self.event(*event).await
            }
            Feed::Skipped { seq } => {
                self.acks.frame(seq);
                Ok(())
            }
        }
    }

    /// Follows the known channels not followed yet (catching each up) and drops the others.
    pub(super) async fn sync(&mut self) -> Result<(), Stop> {
        if self.bot.is_none() {
            // Not READY yet: the first READY catches every channel up.
            return Ok(());
        }
        let known = self.channels.snapshot();
        for gone in self.followed.iter().filter(|c| !known.contains(c)) {
            self.acks.forget(*gone);
        }
        self.followed.retain(|c| known.contains(c));
        for channel in known {
            if self.followed.contains(&channel) {
                continue;
            }
            self.acks.catch_up(channel);
            match self.catch_up(channel).await {
                Ok(()) => {
                    self.followed.insert(channel);
                }
                Err(Stop::Failed(e)) => {
                    // One unusable channel (deleted, no access) must not stop the others.
                    error!(channel, error = %e, "cannot follow this Discord channel; its events are not relayed until kbbridge restarts");
                }
                Err(Stop::Closed) => return Err(Stop::Closed),
            }
        }
        Ok(())
    }

    /// One gateway event of a followed channel, converted and delivered.
    async fn event(&mut self, event: serenity::model::event::Event) -> Result<(), Stop> {
        match &event {
            serenity::model::event::Event::GuildCreate(g) => {
                self.guild.learn(&g.guild);
                return Ok(());
            }
            serenity::model::event::Event::ThreadCreate(t) => {
                self.guild.thread(&t.thread);
                return Ok(());
            }
            _ => {}
        }
        let Some(channel) = events::channel_of(&event) else {
            return Ok(());
        };
        if !self.followed.contains(&channel) {
            self.not_followed(channel, &event);
            return Ok(());
        }
        let sink = self.sink;
        let hook = match events::webhook_of(&event) {
            Some(_) => self.retry(|| hook(sink, channel)).await?,
            None => None,
        };
        let ours = Ours {
            bot: self.bot.unwrap_or(0),
            hook,
        };
        // Someone's reaction, settled against Discord here, in the channel's order (the bot's
        // own are only marked own).
        let now = match reaction_now::subject(&event).filter(|r| r.user != ours.bot) {
            Some(r) => Some(self.reaction_now(&r).await?),
            None => None,
        };
        let client = sink.rest.client().clone();
        for mut incoming in events::convert(event, ours, &client, &self.guild) {
            if already_caught(self, channel, &incoming) {
                debug!(channel, "message already delivered by the catch-up");
                continue;
            }
            if let Some(now) = &now {
                incoming = self.settle(incoming, now);
            }
            self.name(&mut incoming);
            self.push(incoming).await?;
        }
        Ok(())
    }

    /// An event of a channel no link relays: said once per thread of a relayed channel (threads
    /// are not bridged), only in debug logs otherwise.
    fn not_followed(&mut self, channel: u64, event: &serenity::model::event::Event) {
        let in_thread = self
            .guild
            .thread_of(channel)
            .filter(|(parent, _)| self.followed.contains(parent));
        let is_message = matches!(event, serenity::model::event::Event::MessageCreate(_));
        match in_thread {
            Some((parent, name)) if is_message && self.threads_told.insert(channel) => {
                warn!(thread = %name, parent, "messages in a thread of a relayed Discord \
                    channel are not relayed: threads are not bridged in this version");
            }
            _ => debug!(channel, "event of a channel not relayed"),
        }
    }

    /// Remembers who is who, and names the sender of a reaction removal.
    fn name(&mut self, incoming: &mut Incoming) {
        match &mut incoming.event {
            Event::ReactionRemoved { sender, .. } => {
                if let Some(known) = self.names.get(sender.id.as_str()) {
                    sender.clone_from(known);
                }
            }
            Event::Message(m) => self.remember(&m.sender),
            Event::Edit { sender, .. } | Event::ReactionAdded { sender, .. } => {
                let s = sender.clone();
                self.remember(&s);
            }
            Event::Delete { .. } => {}
        }
    }

    /// The sender last seen with user ID `id`.
    pub(super) fn known(&self, id: &str) -> Option<&Sender> {
        self.names.get(id)
    }

    fn remember(&mut self, sender: &Sender) {
        if self.names.len() >= NAMES {
            self.names.clear();
        }
        self.names
            .insert(sender.id.as_str().to_owned(), sender.clone());
    }

    /// Hands `incoming` to the relay (waiting while it is busy); its answer is awaited
    /// before the frame or catch-up it belongs to counts as applied.
    pub(super) async fn push(&mut self, incoming: Incoming) -> Result<(), Stop> {
        let (queued, answer) = Queued::acked(incoming);
        self.acks.wait(answer);
        tokio::select! {
            () = self.shutdown.cancelled() => Err(Stop::Closed),
            sent = self.out.send(queued) => sent.map_err(|_| Stop::Closed),
        }
    }

    /// `f` until it succeeds, backing off after a passing failure (a 429 waits the time
    /// Discord asked for), until shutdown; a lasting failure is returned.
    pub(super) async fn retry<T, F, Fut>(&self, f: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .without_max_times();
        let attempts = f
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(AdapterError::is_retryable)
            .adjust(|e, backoff| match e {
                AdapterError::RateLimited { retry_after } => Some(*retry_after),
                _ => backoff,
            })
            .notify(|e, wait| {
                warn!(error = %e, wait_ms = wait.as_millis(), "reading Discord failed; retrying");
            });
        tokio::select! {
            () = self.shutdown.cancelled() => Err(Stop::Closed),
            done = attempts => done.map_err(Stop::Failed),
        }
    }
}
