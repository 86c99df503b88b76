//! serenity's gateway events (and REST messages, for the catch-up) → kbbridge's [`Incoming`].
//!
//! Which events are kbbridge's own is decided here from what the caller knows ([`Ours`]): the
//! bot's user ID, and the ID of the webhook kbbridge made in the channel (the one recorded in
//! the store), never a display name.

use std::sync::Arc;

use bridge_core::{
    Attachment, ChatRef, Content, Cursor, Event, Incoming, Message, MessageKind, MsgId, Platform,
    Sender, Syntax, UserId, safe_file_name,
};
use serenity::model::{
    channel::{
        Message as DiscordMessage, MessageReferenceKind, MessageType, Reaction, ReactionType,
    },
    event::{Event as GatewayEvent, MessageUpdateEvent},
    guild::PartialMember,
    user::User,
};
use tracing::debug;

use super::{
    files::DiscordFile,
    mentions::{GuildNames, readable},
};

/// What says an event is kbbridge's own, in one channel.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ours {
    /// The bot's user ID.
    pub(crate) bot: u64,
    /// kbbridge's webhook in the channel, if it made one.
    pub(crate) hook: Option<u64>,
}

/// The channel an event is about, for the events kbbridge relays.
pub(crate) fn channel_of(event: &GatewayEvent) -> Option<u64> {
    let id = match event {
        GatewayEvent::MessageCreate(e) => e.message.channel_id,
        GatewayEvent::MessageUpdate(e) => e.channel_id,
        GatewayEvent::MessageDelete(e) => e.channel_id,
        GatewayEvent::MessageDeleteBulk(e) => e.channel_id,
        GatewayEvent::ReactionAdd(e) => e.reaction.channel_id,
        GatewayEvent::ReactionRemove(e) => e.reaction.channel_id,
        _ => return None,
    };
    Some(id.get())
}

/// The webhook that posted or edited the message the event is about, if any.
pub(crate) fn webhook_of(event: &GatewayEvent) -> Option<u64> {
    match event {
        GatewayEvent::MessageCreate(e) => e.message.webhook_id.map(|w| w.get()),
        GatewayEvent::MessageUpdate(e) => e.webhook_id.flatten().map(|w| w.get()),
        _ => None,
    }
}

/// `event` as what kbbridge relays (none for an event it does not, several for a bulk
/// delete), each marked own or not. `client` downloads attachments.
pub(crate) fn convert(
    event: GatewayEvent,
    ours: Ours,
    client: &reqwest::Client,
    guild: &GuildNames,
) -> Vec<Incoming> {
    match event {
        GatewayEvent::MessageCreate(e) => message(e.message, ours, client, guild)
            .into_iter()
            .collect(),
        GatewayEvent::MessageUpdate(e) => edit(e, ours, guild).into_iter().collect(),
        GatewayEvent::MessageDelete(e) => {
            let chat = chat(e.channel_id.get());
            vec![delete(&chat, e.message_id.get())]
        }
        GatewayEvent::MessageDeleteBulk(e) => {
            let chat = chat(e.channel_id.get());
            let mut ids: Vec<u64> = e.ids.iter().map(|i| i.get()).collect();
            ids.sort_unstable();
            ids.into_iter().map(|id| delete(&chat, id)).collect()
        }
        GatewayEvent::ReactionAdd(e) => reaction(&e.reaction, true, ours).into_iter().collect(),
        GatewayEvent::ReactionRemove(e) => reaction(&e.reaction, false, ours).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn chat(channel: u64) -> ChatRef {
    ChatRef::new(Platform::Discord, channel.to_string())
}

/// A message's author: their nickname in the guild, else their display name, else their
/// username; their avatar.
pub(crate) fn sender(user: &User, nick: Option<&str>) -> Sender {
    let name = nick
        .or(user.global_name.as_deref())
        .unwrap_or(&user.name)
        .to_owned();
    Sender {
        id: UserId::new(user.id.get().to_string()),
        name,
        avatar: user.avatar_url(),
    }
}

fn is_ours(ours: Ours, author: Option<u64>, webhook: Option<u64>) -> bool {
    author == Some(ours.bot) || (webhook.is_some() && webhook == ours.hook)
}

/// A new message (MESSAGE_CREATE, or one read by the catch-up), positioned at its snowflake.
/// System messages (joins, pins, thread starts…) are not relayed.
pub(crate) fn message(
    m: DiscordMessage,
    ours: Ours,
    client: &reqwest::Client,
    guild: &GuildNames,
) -> Option<Incoming> {
    let relayed = matches!(
        m.kind,
        MessageType::Regular
            | MessageType::InlineReply
            | MessageType::ChatInputCommand
            | MessageType::ContextMenuCommand
    );
    if !relayed {
        debug!(message = m.id.get(), kind = ?m.kind, "system message not relayed");
        return None;
    }
    let channel = m.channel_id.get();
    let chat = chat(channel);
    let own = is_ours(ours, Some(m.author.id.get()), m.webhook_id.map(|w| w.get()));
    let nick = m
        .member
        .as_deref()
        .and_then(|p: &PartialMember| p.nick.as_deref());
    let reply_to = m
        .message_reference
        .as_ref()
        .filter(|r| r.kind == MessageReferenceKind::Default && r.channel_id == m.channel_id)
        .and_then(|r| r.message_id)
        .map(|id| MsgId::new(id.get().to_string()));
    let attachments = m
        .attachments
        .iter()
        .map(|a| Attachment {
            name: safe_file_name(&a.filename),
            mime: a.content_type.clone(),
            size: Some(u64::from(a.size)),
            dimensions: a.width.zip(a.height),
            data: Arc::new(DiscordFile {
                client: client.clone(),
                url: a.url.clone(),
                id: a.id.get(),
            }),
        })
        .collect();
    let id = m.id.get().to_string();
    Some(Incoming {
        event: Event::Message(Message {
            origin: chat.msg(id.as_str()),
            sender: sender(&m.author, nick),
            sent_at: *m.timestamp,
            kind: MessageKind::Normal,
            content: Content {
                text: readable(&m.content, &m.mentions, guild),
                syntax: Syntax::Discord,
                attachments,
            },
            reply_to,
            reactions: Vec::new(),
            edited: m.edited_timestamp.is_some(),
        }),
        position: Some(Cursor::new(id)),
        own,
    })
}

/// MESSAGE_UPDATE, when it is an edit of the text: Discord also sends updates when it adds
/// link embeds, without `edited_timestamp`.
fn edit(e: MessageUpdateEvent, ours: Ours, guild: &GuildNames) -> Option<Incoming> {
    let (Some(at), Some(content), Some(author)) = (e.edited_timestamp, e.content, e.author) else {
        debug!(
            message = e.id.get(),
            "message update without an edit not relayed"
        );
        return None;
    };
    let webhook = e.webhook_id.flatten().map(|w| w.get());
    let own = is_ours(ours, Some(author.id.get()), webhook);
    let nick = e.member.flatten();
    let nick = nick.as_deref().and_then(|p| p.nick.as_deref());
    Some(Incoming {
        event: Event::Edit {
            target: chat(e.channel_id.get()).msg(e.id.get().to_string()),
            sender: sender(&author, nick),
            content: Content {
                text: readable(&content, e.mentions.as_deref().unwrap_or_default(), guild),
                syntax: Syntax::Discord,
                attachments: Vec::new(),
            },
            at: *at,
        },
        position: None,
        own,
    })
}

fn delete(chat: &ChatRef, id: u64) -> Incoming {
    Incoming {
        event: Event::Delete {
            target: chat.msg(id.to_string()),
            sender: None,
        },
        position: None,
        own: false,
    }
}

/// The emoji as kbbridge's model carries it: Unicode as is, a custom emoji as `:name:`.
pub(crate) fn emoji(e: &ReactionType) -> Option<String> {
    match e {
        ReactionType::Unicode(s) => Some(s.clone()),
        ReactionType::Custom { name: Some(n), .. } => Some(format!(":{n}:")),
        ReactionType::Custom { id, .. } => Some(format!(":{id}:")),
        _ => None,
    }
}

/// MESSAGE_REACTION_ADD or _REMOVE. The reacting user is only named where the event carries
/// their member (an add); a removal names them by ID (the relay finds the reaction by ID).
fn reaction(r: &Reaction, added: bool, ours: Ours) -> Option<Incoming> {
    let user = r.user_id?.get();
    let emoji = emoji(&r.emoji)?;
    let sender = match &r.member {
        Some(m) => sender(&m.user, m.nick.as_deref()),
        None => Sender {
            id: UserId::new(user.to_string()),
            name: user.to_string(),
            avatar: None,
        },
    };
    let target = chat(r.channel_id.get()).msg(r.message_id.get().to_string());
    let event = if added {
        Event::ReactionAdded {
            target,
            sender,
            emoji,
            id: None,
        }
    } else {
        Event::ReactionRemoved {
            target,
            sender,
            emoji,
            id: None,
        }
    };
    Some(Incoming {
        event,
        position: None,
        own: user == ours.bot,
    })
}

#[cfg(test)]
mod tests;
