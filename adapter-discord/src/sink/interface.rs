//! [`DiscordSink`] as the engine sees it: the [`Sink`] trait, each method handing over to
//! where its work is done (`mod.rs` sends, `reconcile.rs` finds interrupted sends, `amend.rs`
//! edits and deletes, `reactions.rs` reactions, `channels.rs` chats).

use async_trait::async_trait;
use bridge_core::{
    AdapterError, ChatId, ChatInfo, Content, Message, MsgId, Outgoing, Platform, Sender, Sink,
    TextPart,
};
use tracing::debug;

use super::{DiscordSink, lock};
use crate::{channels, config::ReactionStyle, error::DiscordError};

#[async_trait]
impl Sink for DiscordSink {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn parts(&self, msg: &Message) -> u32 {
        u32::try_from(self.plan(msg).len()).unwrap_or(u32::MAX)
    }

    fn degraded(&self, msg: &Message) -> Vec<String> {
        self.late_notes.degraded(msg, |a| self.left_out(a))
    }

    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError> {
        let channel = channels::channel_id(to)?;
        let plan = self.plan(out.msg);
        let Some(part) = plan.get(out.part as usize) else {
            return Err(AdapterError::rejected(format!(
                "part {} of {} does not exist",
                out.part,
                plan.len()
            )));
        };
        let key = (channel, out.msg.origin.to_string(), out.part);
        if lock(&self.ambiguous).contains(&key) {
            if let Some(found) = self.reconcile(to, &out).await? {
                lock(&self.ambiguous).remove(&key);
                return Ok(found);
            }
        }
        let id = match self.send_part(channel, &out, part).await {
            Ok(id) => id,
            Err(e) => {
                let unclear = matches!(&e, DiscordError::Connection { .. })
                    || matches!(
                        &e,
                        DiscordError::Api {
                            status: 500..=599,
                            ..
                        }
                    );
                if unclear {
                    lock(&self.ambiguous).insert(key);
                }
                return Err(e.into());
            }
        };
        lock(&self.ambiguous).remove(&key);
        debug!(msg = %out.msg.origin, part = out.part, id, "copied");
        Ok(MsgId::new(id.to_string()))
    }

    async fn find_sent(
        &self,
        to: &ChatId,
        out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        Ok(self.reconcile(to, &out).await?)
    }

    async fn read_back(&self, chat: &ChatId) -> Result<Vec<bridge_core::Posted>, AdapterError> {
        Ok(self.read_back_channel(chat).await?)
    }

    fn text_parts(&self, msg: &Message) -> u32 {
        self.text_count(msg)
    }

    async fn edit(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        self.edit_whole(to, target, content).await
    }

    async fn edit_text(
        &self,
        to: &ChatId,
        target: &MsgId,
        text: TextPart<'_>,
    ) -> Result<(), AdapterError> {
        self.edit_part(to, target, text).await
    }

    async fn send_text(&self, to: &ChatId, text: TextPart<'_>) -> Result<MsgId, AdapterError> {
        self.add_part(to, text).await
    }

    async fn find_text(
        &self,
        to: &ChatId,
        text: TextPart<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        self.find_part(to, text).await
    }

    async fn delete(&self, to: &ChatId, target: &MsgId) -> Result<(), AdapterError> {
        self.delete_copy(to, target).await
    }

    async fn react(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        self.react_live(to, target, sender, emoji, true).await?;
        Ok(None)
    }

    async fn unreact(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
        _reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        self.react_live(to, target, sender, emoji, false).await
    }

    fn reaction_style(&self) -> bridge_core::ReactionStyle {
        // `line` names each reacting user, so it needs each one's reaction; the bot's
        // reactions are one per emoji, shared by every user (the relay counts them).
        match self.style.reactions {
            ReactionStyle::Line => bridge_core::ReactionStyle::PerUser,
            ReactionStyle::Bot | ReactionStyle::None => bridge_core::ReactionStyle::Shared,
        }
    }

    async fn resolve_chat(
        &self,
        source: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        Ok(channels::resolve(&self.rest, &self.store, self.guild, source, requested).await?)
    }

    async fn check(&self, to: &ChatId) -> Result<(), AdapterError> {
        let channel = channels::channel_id(to)?;
        channels::check(&self.rest, self.guild, channel).await?;
        self.hook(channel).await?;
        Ok(())
    }
}
