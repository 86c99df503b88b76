//! A channel read back for `kbbridge verify` (`Sink::read_back`): every message, oldest first,
//! paged with `after`. kbbridge's are those of its webhook in the channel. Discord keeps no
//! source on a message and lists no deleted one: the store's IDs say which copy each is.

use bridge_core::{ChatId, MsgId, Platform, Posted};
use serenity::model::id::WebhookId;

use crate::{channels, error::DiscordError, sink::DiscordSink, webhooks};

impl DiscordSink {
    /// Every message of channel `to`, oldest first.
    pub(crate) async fn read_back_channel(&self, to: &ChatId) -> Result<Vec<Posted>, DiscordError> {
        let channel = channels::channel_id(to)?;
        // The webhook kbbridge recorded for the channel; none recorded: nothing is its own.
        let hook = self
            .store
            .target(Platform::Discord, webhooks::KIND, &channel.to_string())
            .await?
            .and_then(|id| id.parse::<u64>().ok());
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.recent(channel, Some(after), None).await?;
            let n = page.len();
            let Some(newest) = page.iter().map(|m| m.id.get()).max() else {
                break;
            };
            all.extend(page);
            if n < 100 {
                break;
            }
            after = newest;
        }
        all.sort_by_key(|m| m.id);
        all.dedup_by_key(|m| m.id);
        Ok(all
            .into_iter()
            .map(|m| Posted {
                id: MsgId::new(m.id.get().to_string()),
                ours: hook.is_some() && m.webhook_id.map(WebhookId::get) == hook,
                source: None,
                gone: false,
                edited: m.edited_timestamp.is_some(),
                text: m.content,
            })
            .collect())
    }
}
