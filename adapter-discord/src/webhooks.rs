//! One webhook per channel, reused: found by the ID recorded in the store (kind `webhook`,
//! key = channel ID), else by name among the channel's webhooks, else created and recorded.
//! Only its ID is stored; its token is read back from Discord once per run.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use bridge_core::{MappingStore, Platform};
use serde::Deserialize;
use serde_json::json;
use serenity::{
    http::{LightMethod, Request, Route},
    model::id::ChannelId,
};
use tokio::sync::OnceCell;
use tracing::info;

use crate::{client::Rest, error::DiscordError, names::WEBHOOK_NAME};

/// The `target` kind under which webhooks are recorded.
pub const KIND: &str = "webhook";

/// A channel's webhook.
#[derive(Clone, Debug)]
pub struct Hook {
    /// Its ID.
    pub id: u64,
    /// Its token (never logged).
    pub token: String,
}

/// The fields of a webhook object kbbridge reads (serenity's `Webhook` keeps the token in a
/// `secrecy` wrapper; reading it here needs no extra crate).
#[derive(Clone, Debug, Deserialize)]
struct Webhook {
    id: serenity::model::id::WebhookId,
    name: Option<String>,
    token: Option<String>,
}

/// The webhooks in use, one per channel, each set up once.
#[derive(Default)]
pub struct Webhooks {
    cells: Mutex<HashMap<u64, Arc<OnceCell<Hook>>>>,
}

impl Webhooks {
    fn cell(&self, channel: u64) -> Arc<OnceCell<Hook>> {
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.entry(channel).or_default().clone()
    }

    /// Forgets `channel`'s webhook (it was deleted on Discord): the next call finds or makes
    /// another.
    pub fn forget(&self, channel: u64) {
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.remove(&channel);
    }

    /// `channel`'s webhook, found or made.
    ///
    /// # Errors
    /// When Discord or the store fails.
    pub async fn get(
        &self,
        rest: &Rest,
        store: &MappingStore,
        channel: u64,
    ) -> Result<Hook, DiscordError> {
        let cell = self.cell(channel);
        cell.get_or_try_init(|| find_or_create(rest, store, channel))
            .await
            .cloned()
    }
}

async fn find_or_create(
    rest: &Rest,
    store: &MappingStore,
    channel: u64,
) -> Result<Hook, DiscordError> {
    let key = channel.to_string();
    let recorded = store.target(Platform::Discord, KIND, &key).await?;
    let channel_id = ChannelId::new(channel.max(1));
    let list: Vec<Webhook> = rest
        .json(
            "list webhooks",
            Request::new(Route::ChannelWebhooks { channel_id }, LightMethod::Get),
        )
        .await?;
    let usable = |w: &&Webhook| w.token.is_some();
    let found = list
        .iter()
        .filter(usable)
        .find(|w| recorded.as_deref() == Some(w.id.to_string().as_str()))
        .or_else(|| {
            list.iter()
                .filter(usable)
                .find(|w| w.name.as_deref() == Some(WEBHOOK_NAME))
        });
    let hook = match found {
        Some(w) => w.clone(),
        None => {
            let body = serde_json::to_vec(&json!({ "name": WEBHOOK_NAME }))
                .map_err(|e| DiscordError::Setup(e.to_string()))?;
            let req = Request::new(Route::ChannelWebhooks { channel_id }, LightMethod::Post)
                .body(Some(body));
            let w: Webhook = rest.json("create webhook", req).await?;
            info!(channel, webhook = %w.id, "created the kbbridge webhook");
            w
        }
    };
    let token = hook.token.clone().ok_or_else(|| DiscordError::Decode {
        call: "create webhook",
        detail: "webhook without a token".into(),
    })?;
    // Anyone holding it can post into the channel: masked in every log line and error from now
    // on (serenity's spans quote the route, token included, at `RUST_LOG=trace`).
    bridge_core::secret::remember(&token);
    let id = hook.id.get();
    if recorded.as_deref() != Some(id.to_string().as_str()) {
        store
            .save_target(Platform::Discord, KIND, &key, &id.to_string(), false)
            .await?;
    }
    Ok(Hook { id, token })
}
