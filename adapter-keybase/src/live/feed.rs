//! [`KeybaseFeed`]: the supervised api-listen and the catch-ups as one stream with no gap and
//! no repeat, per followed conversation, in Keybase id order (relay.md §4.3 steps 1 and 3 for
//! Keybase).
//!
//! The caller names each conversation with the position its relay stands at (the last Keybase
//! id handled: the stored live position, or the export's high-water mark). At every start of
//! api-listen, the first included, the feed catches up each conversation after its position
//! (the listener already listens, so nothing falls between), then passes the listener's
//! events on. Keybase ids only grow within a conversation, so an event at or below what the
//! feed already gave for its conversation is the overlap of a catch-up and the listener, and
//! is dropped (an expanded delete gives several events at one position: each is given once).
//!
//! What stays the caller's: storing positions once events are handled, the ID map (an echo
//! of what kbbridge sent is `local`, but only the map knows a copy), and after a restart of
//! kbbridge itself, passing the stored positions in again.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{
    catchup::catch_up,
    event::{EventReader, LiveEvent},
    listen::{ApiListen, ListenError, ListenItem},
};
use crate::cli::{ApiProcess, ClientError, requests::ChatChannel};

/// How many times a catch-up is tried before the feed stops.
const CATCH_UP_ATTEMPTS: usize = 4;

/// A conversation the feed follows.
#[derive(Clone, Debug)]
pub struct Followed {
    /// Its id (64 hex digits; [`super::find_conversations`] finds it).
    pub conversation_id: String,
    /// Its channel (for api-listen's filter).
    pub channel: ChatChannel,
    /// The last Keybase id already handled: the feed gives what comes after it.
    pub position: u64,
}

/// What the feed gives.
#[derive(Debug)]
pub enum FeedItem {
    /// A message, edit, delete or reaction, after everything before it in its conversation.
    Event(Box<LiveEvent>),
    /// A conversation was caught up after a start of api-listen (`restarts` 0: the first).
    CaughtUp {
        /// The conversation.
        conversation_id: String,
        /// Which start of api-listen it followed.
        restarts: u32,
        /// Events the catch-up gave (overlap removed).
        events: usize,
    },
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// api-listen could not be kept running.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A conversation could not be caught up after a start, so a gap could be left.
    #[error(
        "cannot catch up the keybase conversation {conversation_id} after api-listen started \
         ({source}); nothing after position {position} was given; restart kbbridge to try again"
    )]
    CatchUp {
        /// The conversation.
        conversation_id: String,
        /// Its position.
        position: u64,
        /// The last failure.
        #[source]
        source: ClientError,
    },
}

/// The live Keybase side of followed conversations.
#[derive(Clone, Debug)]
pub struct KeybaseFeed {
    listen: ApiListen,
    page_size: u32,
}

/// Where a conversation's stream stands: the last position given, and the ids given at it.
#[derive(Debug, Default)]
struct Given {
    position: u64,
    at_position: HashSet<u64>,
}

impl Given {
    /// Whether `event` is new; if so it is counted as given.
    fn take(&mut self, event: &LiveEvent) -> bool {
        if event.position > self.position {
            self.position = event.position;
            self.at_position.clear();
        } else if event.position < self.position {
            return false;
        }
        self.at_position.insert(event.keybase_id)
    }
}

impl KeybaseFeed {
    /// A feed running `listen` (its channel filter is set from the followed conversations),
    /// catching up `page_size` messages a page.
    pub fn new(listen: &ApiListen, page_size: u32) -> Self {
        Self {
            listen: listen.clone(),
            page_size,
        }
    }

    /// Gives the events of `followed` into `out` until `shutdown` is cancelled or `out` is
    /// closed. `api` is the `chat api` process catch-ups read through (share the sink's, so
    /// reads and writes of the account stay in order); `reader` reads both streams.
    ///
    /// # Errors
    /// [`FeedError`]: api-listen gave up, or a catch-up failed again and again.
    pub async fn run(
        &self,
        reader: EventReader,
        api: Arc<Mutex<ApiProcess>>,
        followed: Vec<Followed>,
        out: mpsc::Sender<FeedItem>,
        shutdown: CancellationToken,
    ) -> Result<(), FeedError> {
        let channels: Vec<ChatChannel> = followed.iter().map(|f| f.channel.clone()).collect();
        let mut given: BTreeMap<String, Given> = followed
            .into_iter()
            .map(|f| {
                let g = Given {
                    position: f.position,
                    at_position: HashSet::new(),
                };
                (f.conversation_id, g)
            })
            .collect();
        let listen = self.listen.with_channels(channels);
        let (tx, mut items) = mpsc::channel(256);
        let stop = shutdown.child_token();
        let listener_reader = reader.clone();
        let listener_stop = stop.clone();
        let mut listener =
            tokio::spawn(async move { listen.run(listener_reader, tx, listener_stop).await });
        let mut listener_done = false;
        let result = loop {
            let item = tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                item = items.recv() => item,
            };
            let Some(item) = item else {
                // The supervisor ended: it gave up, or was stopped.
                listener_done = true;
                break match (&mut listener).await {
                    Ok(Err(e)) => Err(FeedError::Listen(e)),
                    _ => Ok(()),
                };
            };
            let sent = match item {
                ListenItem::Started { restarts, .. } => {
                    match self
                        .catch_up_all(&reader, &api, &mut given, restarts, &out)
                        .await
                    {
                        Ok(sent) => sent,
                        Err(e) => break Err(e),
                    }
                }
                ListenItem::Event(event) => {
                    let new = given
                        .get_mut(&event.conversation_id)
                        .map(|g| g.take(&event));
                    match new {
                        Some(true) => out.send(FeedItem::Event(event)).await.is_ok(),
                        Some(false) => {
                            debug!(conversation = %event.conversation_id, position = event.position,
                                "keybase event already given by a catch-up");
                            true
                        }
                        None => {
                            debug!(conversation = %event.conversation_id,
                                "keybase event of a conversation not followed");
                            true
                        }
                    }
                }
            };
            if !sent {
                break Ok(());
            }
        };
        stop.cancel();
        if !listener_done {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), listener).await;
        }
        result
    }

    /// Catches up every followed conversation; `false` when `out` is closed.
    async fn catch_up_all(
        &self,
        reader: &EventReader,
        api: &Mutex<ApiProcess>,
        given: &mut BTreeMap<String, Given>,
        restarts: u32,
        out: &mpsc::Sender<FeedItem>,
    ) -> Result<bool, FeedError> {
        for (conversation_id, g) in given.iter_mut() {
            let mut delays = ExponentialBuilder::default().with_jitter().build();
            let mut attempt = 0;
            let caught = loop {
                attempt += 1;
                let result = {
                    let mut api = api.lock().await;
                    catch_up(
                        &mut api,
                        reader,
                        conversation_id,
                        g.position,
                        self.page_size,
                    )
                    .await
                };
                match result {
                    Ok(caught) => break caught,
                    Err(source) if attempt >= CATCH_UP_ATTEMPTS => {
                        return Err(FeedError::CatchUp {
                            conversation_id: conversation_id.clone(),
                            position: g.position,
                            source,
                        });
                    }
                    Err(e) => {
                        let delay = delays.next().unwrap_or_default();
                        warn!(conversation = %conversation_id, error = %e, retry_in = ?delay,
                            "keybase catch-up failed; retrying");
                        tokio::time::sleep(delay).await;
                    }
                }
            };
            let mut events = 0;
            for event in caught.events {
                if g.take(&event) {
                    events += 1;
                    if out.send(FeedItem::Event(Box::new(event))).await.is_err() {
                        return Ok(false);
                    }
                }
            }
            let done = FeedItem::CaughtUp {
                conversation_id: conversation_id.clone(),
                restarts,
                events,
            };
            if out.send(done).await.is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
