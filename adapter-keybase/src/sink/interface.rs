//! [`KeybaseSink`] as a [`Sink`]: the engine's calls, each on the `chat api` as the module
//! documentation of `sink` describes.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Sink for KeybaseSink {
    fn platform(&self) -> Platform {
        Platform::Keybase
    }

    fn parts(&self, msg: &Message) -> u32 {
        let files = u32::try_from(msg.content.attachments.len()).unwrap_or(u32::MAX - 1);
        files + u32::from(has_text_part(msg))
    }

    fn degraded(&self, msg: &Message) -> Vec<String> {
        msg.content
            .attachments
            .iter()
            .filter_map(|a| a.unavailable_reason().map(|why| a.not_copied(why)))
            .collect()
    }

    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError> {
        let id = match self.part(out.msg, out.part) {
            Some(Part::Text) => {
                let reply_to = match out.reply_to {
                    Some(r) => Some(msg_number(r)?),
                    None => None,
                };
                let options = SendOptions {
                    channel: self.channel(to),
                    message: MessageBody {
                        body: self.text_body(out.msg),
                    },
                    reply_to,
                };
                self.write("send", &options).await?.ok_or_else(no_id)?
            }
            Some(Part::File(file)) => self.send_file(to, out.msg, file).await?,
            None => {
                return Err(AdapterError::rejected(format!(
                    "part {} of {} does not exist",
                    out.part, out.msg.origin.msg
                )));
            }
        };
        debug!(chat = %to, id, part = out.part, "sent to keybase");
        Ok(MsgId::new(id.to_string()))
    }

    async fn find_sent(
        &self,
        to: &ChatId,
        out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        let me = self.identity().await?.clone();
        let options = ReadChannelOptions {
            channel: self.channel(to),
            pagination: PageRequest {
                num: FIND_SENT_WINDOW,
                next: None,
            },
            peek: true,
        };
        let raw = self
            .api
            .lock()
            .await
            .call("read", &options)
            .await
            .map_err(classify)?;
        let after = out
            .earlier
            .last()
            .and_then(|id| id.as_str().parse::<u64>().ok())
            .unwrap_or(0);
        let wanted = match self.part(out.msg, out.part) {
            Some(Part::Text) => Wanted::Text(self.text_body(out.msg)),
            Some(Part::File(f)) => match f.unavailable_reason() {
                Some(why) => Wanted::Text(self.note_body(out.msg, f, why)),
                None => Wanted::File {
                    name: upload_name(&f.name),
                    title: self.file_title(out.msg, f),
                },
            },
            None => return Ok(None),
        };
        // Newest first: the latest copy of the same thing by this account and device.
        let found = messages_of(raw.get()).into_iter().find(|m| {
            let id = m["id"].as_u64().unwrap_or(0);
            let own = me.is_own_device(
                m["sender"]["username"].as_str().unwrap_or(""),
                m["sender"]["device_name"].as_str().unwrap_or(""),
            );
            own && id > after && wanted.matches(&m["content"])
        });
        Ok(found
            .and_then(|m| m["id"].as_u64())
            .map(|id| MsgId::new(id.to_string())))
    }

    async fn edit(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        // The core does not say which platform the edit comes from: the copy's own author
        // line does.
        let current = self.get(to, vec![msg_number(target)?]).await?;
        let body = current
            .first()
            .and_then(|m| {
                let c = &m["content"];
                c["text"]["body"]
                    .as_str()
                    .or_else(|| c["attachment"]["object"]["title"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let platform = [Platform::Matrix, Platform::Discord, Platform::Keybase]
            .into_iter()
            .find(|&p| {
                let shown = self.format.render(&sender.name, p, "\u{0}");
                let (before, after) = shown.split_once('\u{0}').unwrap_or((&shown, ""));
                (!before.is_empty() || !after.is_empty())
                    && body.len() >= before.len() + after.len()
                    && body.starts_with(before)
                    && body.ends_with(after)
            });
        let Some(platform) = platform else {
            return Err(AdapterError::rejected(format!(
                "message {target} in {to} is not a copy kbbridge made for {}, or it is gone",
                sender.name
            )));
        };
        self.edit_from(to, target, platform, sender, content).await
    }

    async fn delete(&self, to: &ChatId, target: &MsgId) -> Result<(), AdapterError> {
        let id = msg_number(target)?;
        let options = DeleteOptions {
            channel: self.channel(to),
            message_id: id,
        };
        match self.write("delete", &options).await {
            Ok(_) => Ok(()),
            Err(AdapterError::Rejected { reason }) => {
                // Deleted already (by someone, or before a crash)? Then it is done.
                if self.get(to, vec![id]).await?.is_empty() {
                    debug!(chat = %to, id, "keybase message already gone");
                    Ok(())
                } else {
                    Err(AdapterError::Rejected { reason })
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn react(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        let id = msg_number(target)?;
        let key = keybase_reaction(emoji);
        let me = self.identity().await?.username.clone();
        let current = self.get(to, vec![id]).await?;
        let Some(message) = current.first() else {
            return Err(AdapterError::rejected(format!(
                "cannot react to message {target} in {to}: it is gone"
            )));
        };
        let reactions = &message["reactions"]["reactions"][&key];
        // Both shapes (keybase.md §2.6): {"users": {name: …}} and {name: …}.
        let had = reactions["users"][&me]["reactionMsgID"]
            .as_u64()
            .or_else(|| reactions[&me]["reactionMsgID"].as_u64());
        if let Some(existing) = had {
            // Reacting again would take it off: the account already shows it.
            debug!(chat = %to, target = id, emoji = %key, reactor = %sender.name,
                "the bridge account already has this reaction");
            return Ok(Some(MsgId::new(existing.to_string())));
        }
        let options = TargetOptions {
            channel: self.channel(to),
            message_id: id,
            message: MessageBody { body: key },
        };
        let reaction = self.write("reaction", &options).await?.ok_or_else(no_id)?;
        Ok(Some(MsgId::new(reaction.to_string())))
    }

    /// Takes the bridge account's reaction back: deletes the reaction message `reaction` (the
    /// id [`Sink::react`] returned), or the account's `emoji` reaction on `target` when no id
    /// is known. Done when it is already gone. The relay calls it only when no other source
    /// user still shares the reaction (Keybase keeps one per account).
    async fn unreact(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        emoji: &str,
        reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        if let Some(reaction) = reaction {
            return self.delete(to, reaction).await;
        }
        let key = keybase_reaction(emoji);
        let me = self.identity().await?.username.clone();
        let current = self.get(to, vec![msg_number(target)?]).await?;
        let Some(message) = current.first() else {
            return Ok(());
        };
        let reactions = &message["reactions"]["reactions"][&key];
        let had = reactions["users"][&me]["reactionMsgID"]
            .as_u64()
            .or_else(|| reactions[&me]["reactionMsgID"].as_u64());
        match had {
            Some(id) => self.delete(to, &MsgId::new(id.to_string())).await,
            None => Ok(()),
        }
    }

    async fn resolve_chat(
        &self,
        source: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        let Some(chat) = requested else {
            return Err(AdapterError::fatal(format!(
                "kbbridge does not create Keybase chats: name the Keybase chat for {} in the link",
                source.name
            )));
        };
        let chat = crate::config::parse_chat(chat.as_str())
            .map_err(|why| AdapterError::fatal(format!("{chat} is not a Keybase chat: {why}")))?;
        self.check(&chat).await?;
        Ok(chat)
    }

    async fn check(&self, to: &ChatId) -> Result<(), AdapterError> {
        let options = ReadChannelOptions {
            channel: self.channel(to),
            pagination: PageRequest { num: 1, next: None },
            peek: true,
        };
        let result = self.api.lock().await.call("read", &options).await;
        match result {
            Ok(_) => Ok(()),
            Err(e @ ClientError::Api { .. }) => Err(AdapterError::fatal(format!(
                "the bridge account cannot read the Keybase chat {to}: {e}; check the name and \
                 that the account is a member"
            ))),
            Err(e) => Err(classify(e)),
        }
    }
}
