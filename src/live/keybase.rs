//! The Keybase live side: one supervised api-listen for every relayed Keybase chat, caught up
//! at each start from where each chat's relay stands, handed to the relay.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use adapter_keybase::{
    KeybaseExport,
    cli::KeybaseCli,
    live::{
        ApiListen, Downloader, EventReader, FeedItem, Followed, Identity, KeybaseFeed,
        ListenOptions, find_conversations, newest_id,
    },
    sink::KeybaseSink,
};
use anyhow::Context;
use bridge_config::Config;
use bridge_core::{ChatId, ChatRef, Cursor, MappingStore, Platform, relay::Queued};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// The store's kind for a Keybase chat's conversation id (`target` table).
const CONVERSATION: &str = "conversation";

/// Messages a catch-up reads per page.
const CATCH_UP_PAGE: u32 = 100;

/// The running Keybase feed.
pub struct KeybaseLive {
    /// Ends when the feed stops: on shutdown, or with why it could not go on.
    pub task: JoinHandle<anyhow::Result<()>>,
    /// Stops this feed (the token it was started with).
    pub stop: CancellationToken,
}

/// Starts following `chats` on the Keybase account of `[keybase]`, each after its position:
/// the later of its stored live position and the export's newest message; a chat with
/// neither starts from its newest message now (its history is a backfill's business), and
/// that position is stored at once so a restart does not skip what comes between.
///
/// # Errors
/// When the client cannot be reached, is logged in as another account than
/// `keybase.username`, or does not list a chat.
pub async fn start_keybase(
    config: &Config,
    store: &MappingStore,
    sink: &KeybaseSink,
    chats: &[ChatRef],
    export: Option<&KeybaseExport>,
    out: mpsc::Sender<Queued>,
    shutdown: CancellationToken,
) -> anyhow::Result<KeybaseLive> {
    let section = config.keybase.clone().unwrap_or_default();
    let cli = KeybaseCli::from_config(&section);
    let me = Identity::of(&cli)
        .await
        .context("cannot ask the keybase client who it is logged in as; is it running and logged in? (keybase.binary, keybase.home)")?;
    me.expect(section.username.as_deref())
        .map_err(anyhow::Error::msg)?;
    let api = sink.api();
    let ids: Vec<ChatId> = chats.iter().map(|c| c.chat.clone()).collect();
    let mut known = BTreeMap::new();
    for chat in chats {
        if let Some(id) = store
            .target(Platform::Keybase, CONVERSATION, chat.chat.as_str())
            .await?
        {
            known.insert(chat.chat.clone(), id);
        }
    }
    let conversations = {
        let mut api = api.lock().await;
        find_conversations(&mut api, &ids, &known)
            .await
            .context("cannot find the linked Keybase conversations")?
    };
    let mut followed = Vec::new();
    let mut names = HashMap::new();
    for chat in chats {
        let conversation = &conversations[&chat.chat];
        if known.get(&chat.chat) != Some(&conversation.id) {
            // Kept so that a rename while kbbridge is down does not lose the chat.
            store
                .save_target(
                    Platform::Keybase,
                    CONVERSATION,
                    chat.chat.as_str(),
                    &conversation.id,
                    true,
                )
                .await?;
        }
        names.insert(conversation.id.clone(), chat.chat.clone());
        if conversation.channel.chat_name() != chat.chat.as_str() {
            sink.follow_rename(&chat.chat, conversation.channel.clone());
        }
        let stored = store
            .live_position(chat)
            .await?
            .and_then(|c| c.as_str().parse::<u64>().ok());
        let exported = export
            .and_then(|e| e.chats().iter().find(|s| s.chat == chat.chat))
            .map(|s| s.last_id);
        let position = match stored.max(exported) {
            Some(p) => p,
            None => {
                let newest = newest_id(&mut *api.lock().await, &conversation.id)
                    .await
                    .with_context(|| format!("cannot read the Keybase chat {chat}"))?;
                store
                    .save_live_position(chat, &Cursor::new(newest.to_string()))
                    .await?;
                info!(chat = %chat, newest,
                    "relay starts from the chat's newest message (its history is for a backfill)");
                newest
            }
        };
        info!(chat = %chat, conversation = %conversation.id, position, "following keybase chat");
        followed.push(Followed {
            conversation_id: conversation.id.clone(),
            channel: conversation.channel.clone(),
            position,
        });
    }
    let reader = EventReader::new(me, Some(Downloader::new(Arc::clone(&api)))).with_names(names);
    let listen = ApiListen::new(cli, ListenOptions::default());
    let feed = KeybaseFeed::new(&listen, CATCH_UP_PAGE);
    let (items_tx, items) = mpsc::channel(256);
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let feeding = feed.run(reader, api, followed, items_tx, shutdown);
        let (fed, ()) = tokio::join!(feeding, hand_over(items, out));
        fed.context("the Keybase live feed stopped")
    });
    Ok(KeybaseLive { task, stop })
}

/// Hands the feed's events to the relay, in order.
async fn hand_over(mut items: mpsc::Receiver<FeedItem>, out: mpsc::Sender<Queued>) {
    while let Some(item) = items.recv().await {
        match item {
            FeedItem::Event(event) => {
                if out.send(Queued::from(event.into_incoming())).await.is_err() {
                    break;
                }
            }
            FeedItem::CaughtUp {
                conversation_id,
                restarts,
                events,
            } => {
                if restarts == 0 {
                    info!(conversation = %conversation_id, events, "keybase chat caught up");
                } else {
                    debug!(conversation = %conversation_id, restarts, events,
                        "keybase chat caught up after api-listen restarted");
                }
            }
        }
    }
}
