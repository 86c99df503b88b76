//! Channels: adopting one named in the mapping file, or ("auto") finding or creating the
//! category and text channel for a Keybase chat, recorded in the store (kinds `category` and
//! `channel`) and reused on re-runs. Conversations become private channels (`@everyone` denied
//! View Channel) in a "Direct messages" category.

use bridge_core::{ChatId, ChatInfo, ChatKind, MappingStore, Platform};
use serde_json::{Value, json};
use serenity::{
    http::{LightMethod, Request, Route},
    model::{
        channel::{ChannelType, GuildChannel},
        id::{ChannelId, GuildId},
    },
};
use tracing::{info, warn};

use crate::{
    client::Rest,
    convert::truncate,
    error::DiscordError,
    names::{category_name, channel_name},
};

/// The `target` kind of text channels (key: the source chat).
pub const CHANNEL_KIND: &str = "channel";
/// The `target` kind of categories (key: the category name).
pub const CATEGORY_KIND: &str = "category";
/// VIEW_CHANNEL.
const VIEW_CHANNEL: u64 = 1 << 10;

/// A channel ID from a target chat ID.
///
/// # Errors
/// [`DiscordError::Unusable`] when it is not a snowflake.
pub fn channel_id(chat: &ChatId) -> Result<u64, DiscordError> {
    chat.as_str()
        .parse::<u64>()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| DiscordError::Unusable(format!("{chat} is not a Discord channel ID")))
}

/// Reads channel `id`.
///
/// # Errors
/// As the request.
pub async fn get(rest: &Rest, id: u64) -> Result<GuildChannel, DiscordError> {
    let req = Request::new(
        Route::Channel {
            channel_id: ChannelId::new(id),
        },
        LightMethod::Get,
    );
    rest.json("read channel", req).await
}

/// Checks that channel `id` is a text channel of `guild`.
///
/// # Errors
/// [`DiscordError::Unusable`] saying what is wrong, or the request's error.
pub async fn check(rest: &Rest, guild: u64, id: u64) -> Result<GuildChannel, DiscordError> {
    let c = get(rest, id).await?;
    if c.guild_id.get() != guild {
        return Err(DiscordError::Unusable(format!(
            "channel {id} is in server {}, not in discord.guild_id = {guild}",
            c.guild_id
        )));
    }
    if !matches!(c.kind, ChannelType::Text | ChannelType::News) {
        return Err(DiscordError::Unusable(format!(
            "channel {id} ({}) is not a text channel",
            c.name
        )));
    }
    Ok(c)
}

/// The store key of a source chat.
fn key(source: &ChatInfo) -> String {
    format!("{}:{}", source.chat.platform, source.chat.chat)
}

/// Finds the channel for `source` (see the module doc).
///
/// # Errors
/// [`DiscordError::Unusable`] for an adopted channel that is not a text channel of the guild;
/// request and store errors.
pub async fn resolve(
    rest: &Rest,
    store: &MappingStore,
    guild: u64,
    source: &ChatInfo,
    requested: Option<&ChatId>,
) -> Result<ChatId, DiscordError> {
    let key = key(source);
    if let Some(chat) = requested {
        let id = channel_id(chat)?;
        check(rest, guild, id).await?;
        store
            .save_target(Platform::Discord, CHANNEL_KIND, &key, &id.to_string(), true)
            .await?;
        return Ok(ChatId::new(id.to_string()));
    }
    if let Some(recorded) = store.target(Platform::Discord, CHANNEL_KIND, &key).await? {
        match check(rest, guild, recorded.parse().unwrap_or(0)).await {
            Ok(_) => return Ok(ChatId::new(recorded)),
            Err(DiscordError::Api { code: 10003, .. }) => {
                warn!(chat = %key, channel = %recorded, "the channel made earlier is gone; making a new one");
            }
            Err(e) => return Err(e),
        }
    }
    let guild_id = GuildId::new(guild.max(1));
    let list: Vec<GuildChannel> = rest
        .json(
            "list channels",
            Request::new(Route::GuildChannels { guild_id }, LightMethod::Get),
        )
        .await?;
    let category = category(rest, store, guild, &list, &category_name(source)).await?;
    let name = channel_name(source);
    let existing = list.iter().find(|c| {
        c.kind == ChannelType::Text
            && c.name == name
            && c.parent_id.map(ChannelId::get) == Some(category)
    });
    let id = match existing {
        Some(c) => c.id.get(),
        None => {
            let topic = match &source.kind {
                ChatKind::Direct { .. } => Some(format!("Keybase conversation {}", source.name)),
                ChatKind::Channel => source.topic.clone(),
            };
            let mut body = json!({ "name": name, "type": 0, "parent_id": category.to_string() });
            if let Some(t) = topic {
                body["topic"] = Value::String(truncate(&t, 1024));
            }
            if matches!(source.kind, ChatKind::Direct { .. }) {
                body["permission_overwrites"] = json!([{ "id": guild.to_string(), "type": 0,
                    "allow": "0", "deny": VIEW_CHANNEL.to_string() }]);
            }
            let c = create(rest, guild_id, &body).await?;
            info!(chat = %key, channel = c, "created a Discord channel");
            c
        }
    };
    store
        .save_target(
            Platform::Discord,
            CHANNEL_KIND,
            &key,
            &id.to_string(),
            false,
        )
        .await?;
    Ok(ChatId::new(id.to_string()))
}

/// The category called `name`: recorded, found by name, or created.
async fn category(
    rest: &Rest,
    store: &MappingStore,
    guild: u64,
    list: &[GuildChannel],
    name: &str,
) -> Result<u64, DiscordError> {
    let is_category = |id: u64| {
        list.iter()
            .any(|c| c.id.get() == id && c.kind == ChannelType::Category)
    };
    if let Some(id) = store.target(Platform::Discord, CATEGORY_KIND, name).await? {
        if let Ok(id) = id.parse::<u64>() {
            if is_category(id) {
                return Ok(id);
            }
        }
    }
    let id = match list
        .iter()
        .find(|c| c.kind == ChannelType::Category && c.name == name)
    {
        Some(c) => c.id.get(),
        None => {
            let id = create(
                rest,
                GuildId::new(guild.max(1)),
                &json!({ "name": name, "type": 4 }),
            )
            .await?;
            info!(category = name, id, "created a Discord category");
            id
        }
    };
    store
        .save_target(
            Platform::Discord,
            CATEGORY_KIND,
            name,
            &id.to_string(),
            false,
        )
        .await?;
    Ok(id)
}

async fn create(rest: &Rest, guild_id: GuildId, body: &Value) -> Result<u64, DiscordError> {
    let body = serde_json::to_vec(body).map_err(|e| DiscordError::Setup(e.to_string()))?;
    let req = Request::new(Route::GuildChannels { guild_id }, LightMethod::Post).body(Some(body));
    let c: GuildChannel = rest.json("create channel", req).await?;
    Ok(c.id.get())
}
