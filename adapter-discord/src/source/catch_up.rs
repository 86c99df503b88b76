//! The catch-up after every READY (a new session: Discord will not replay what happened
//! before it): each followed channel's messages after its stored live position, oldest first.
//! A channel with no stored position is followed from its newest message, which is recorded
//! as its position, so a later downtime is caught up but its history is not replayed (that is
//! the backfill's business).

use bridge_core::{AdapterError, ChatRef, Cursor, Incoming, Platform};
use tracing::{info, warn};

use super::{
    deliver::{Deliver, Stop},
    events::{self, Ours},
};
use crate::{DiscordError, DiscordSink, webhooks};

/// Messages per page (Discord's maximum).
const PAGE: usize = 100;

impl Deliver<'_> {
    /// Catches `channel` up, or records where it starts being followed; its messages go out
    /// before any live event of it that follows.
    pub(super) async fn catch_up(&mut self, channel: u64) -> Result<(), Stop> {
        let sink = self.sink;
        let chat = ChatRef::new(Platform::Discord, channel.to_string());
        let stored = self.retry(|| position(sink, &chat)).await?;
        let Some(mut after) = stored else {
            let newest = self
                .retry(|| async move {
                    let page = sink.recent(channel, None, None).await?;
                    Ok(page.iter().map(|m| m.id.get()).max())
                })
                .await?;
            // An empty channel starts at 0: everything posted later is caught up.
            let start = newest.unwrap_or(0);
            let cursor = Cursor::new(start.to_string());
            self.retry(|| async {
                let saved = sink.store.save_live_position(&chat, &cursor).await;
                Ok(saved.map_err(DiscordError::from)?)
            })
            .await?;
            info!(
                channel,
                position = start,
                "following a channel from its newest message"
            );
            return Ok(());
        };
        let ours = Ours {
            bot: self.bot.unwrap_or(0),
            hook: self.retry(|| hook(sink, channel)).await?,
        };
        let client = sink.rest.client().clone();
        let mut count = 0usize;
        loop {
            let from = after;
            let mut page = self
                .retry(|| async move { Ok(sink.recent(channel, Some(from), None).await?) })
                .await?;
            page.sort_by_key(|m| m.id);
            let n = page.len();
            for m in page {
                let id = m.id.get();
                after = after.max(id);
                if let Some(incoming) = events::message(m, ours, &client, &self.guild) {
                    self.caught.entry(channel).or_default().insert(id);
                    count += 1;
                    self.push(incoming).await?;
                }
            }
            if n < PAGE {
                break;
            }
        }
        info!(
            channel,
            messages = count,
            "caught up after a new gateway session"
        );
        Ok(())
    }
}

/// `chat`'s stored live position as a snowflake; an unreadable one is treated as none.
async fn position(sink: &DiscordSink, chat: &ChatRef) -> Result<Option<u64>, AdapterError> {
    let stored = sink
        .store
        .live_position(chat)
        .await
        .map_err(DiscordError::from)?;
    Ok(stored.and_then(|p| match p.as_str().parse::<u64>() {
        Ok(id) => Some(id),
        Err(_) => {
            warn!(chat = %chat.chat, position = %p, "stored live position is not a snowflake; following from the newest message");
            None
        }
    }))
}

/// The webhook kbbridge made in `channel`, as the store records it.
pub(super) async fn hook(sink: &DiscordSink, channel: u64) -> Result<Option<u64>, AdapterError> {
    let recorded = sink
        .store
        .target(Platform::Discord, webhooks::KIND, &channel.to_string())
        .await
        .map_err(DiscordError::from)?;
    Ok(recorded.and_then(|id| id.parse().ok()))
}

/// Whether `incoming` is a message the last catch-up of its channel already delivered.
pub(super) fn already_caught(d: &Deliver<'_>, channel: u64, incoming: &Incoming) -> bool {
    let bridge_core::Event::Message(m) = &incoming.event else {
        return false;
    };
    let Ok(id) = m.origin.msg.as_str().parse::<u64>() else {
        return false;
    };
    d.caught.get(&channel).is_some_and(|ids| ids.contains(&id))
}
