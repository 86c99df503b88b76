//! [`FakeSink`] as a [`Sink`]: each method records what it was asked, or answers as its
//! script says.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Sink for FakeSink {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn parts(&self, msg: &Message) -> u32 {
        match self.text_limit {
            Some(_) => {
                let parts = self.chunks(&msg.content.text).len() + msg.content.attachments.len();
                u32::try_from(parts).unwrap_or(u32::MAX)
            }
            None => (self.parts)(msg),
        }
    }

    fn text_parts(&self, msg: &Message) -> u32 {
        u32::try_from(self.chunks(&msg.content.text).len()).unwrap_or(u32::MAX)
    }

    /// A note for each attachment the source could not supply.
    fn degraded(&self, msg: &Message) -> Vec<String> {
        msg.content
            .attachments
            .iter()
            .filter_map(|a| a.unavailable_reason().map(|why| a.not_copied(why)))
            .collect()
    }

    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let lost = self.scripted(out.msg, out.part)?;
        let id = self.record(
            to,
            Delivered {
                to: to.clone(),
                id: MsgId::new(""),
                origin: out.msg.origin.clone(),
                part: out.part,
                reply_to: out.reply_to.cloned(),
                text: self.part_text(out.msg, out.part),
                at: tokio::time::Instant::now(),
            },
        )?;
        // Delivered but not yet answered: a drop here is a crash after the target got it.
        tokio::task::yield_now().await;
        match lost {
            Some(e) => Err(e),
            None => Ok(id),
        }
    }

    /// What was delivered to `chat`, with the deletes and edits asked for since; each says
    /// its source part, as Matrix events do.
    async fn read_back(&self, chat: &ChatId) -> Result<Vec<crate::Posted>, AdapterError> {
        let actions = self.actions();
        Ok(self
            .delivered()
            .into_iter()
            .filter(|d| &d.to == chat)
            .map(|d| crate::Posted {
                gone: actions
                    .iter()
                    .any(|a| matches!(a, Action::Delete(c, id) if c == chat && id == &d.id)),
                edited: actions
                    .iter()
                    .any(|a| matches!(a, Action::Edit(c, id, _) if c == chat && id == &d.id)),
                ours: true,
                source: self.sources.then_some((d.origin, d.part)),
                text: d.text,
                id: d.id,
            })
            .collect())
    }

    async fn find_sent(
        &self,
        to: &ChatId,
        out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a sent message"));
        }
        tokio::task::yield_now().await;
        self.find_part(to, &out.msg.origin, out.part)
    }

    async fn find_copy(
        &self,
        to: &ChatId,
        origin: &MsgRef,
        part: u32,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a copy by its source"));
        }
        self.find_part(to, origin, part)
    }

    async fn edit(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        self.act(Action::Edit(
            to.clone(),
            target.clone(),
            content.text.clone(),
        ))
    }

    /// Records the part's share of the new text.
    async fn edit_text(
        &self,
        to: &ChatId,
        target: &MsgId,
        text: TextPart<'_>,
    ) -> Result<(), AdapterError> {
        let share = self
            .chunks(&text.msg.content.text)
            .into_iter()
            .nth(text.index as usize)
            .unwrap_or_default();
        self.act(Action::Edit(to.clone(), target.clone(), share))
    }

    /// Delivers the part's share of the new text (scripted like a send of that part).
    async fn send_text(&self, to: &ChatId, text: TextPart<'_>) -> Result<MsgId, AdapterError> {
        tokio::task::yield_now().await;
        let lost = self.scripted(text.msg, text.part)?;
        let share = self
            .chunks(&text.msg.content.text)
            .into_iter()
            .nth(text.index as usize)
            .unwrap_or_default();
        let id = self.record(
            to,
            Delivered {
                to: to.clone(),
                id: MsgId::new(""),
                origin: text.msg.origin.clone(),
                part: text.part,
                reply_to: None,
                text: share,
                at: tokio::time::Instant::now(),
            },
        )?;
        match lost {
            Some(e) => Err(e),
            None => Ok(id),
        }
    }

    async fn find_text(
        &self,
        to: &ChatId,
        text: TextPart<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a sent text part"));
        }
        self.find_part(to, &text.msg.origin, text.part)
    }

    async fn delete(&self, to: &ChatId, target: &MsgId) -> Result<(), AdapterError> {
        self.act(Action::Delete(to.clone(), target.clone()))
    }

    async fn react(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        let n = self.actions().len();
        self.act(Action::React(
            to.clone(),
            target.clone(),
            sender.name.clone(),
            emoji.to_owned(),
        ))?;
        Ok(Some(MsgId::new(format!("r-{n}"))))
    }

    async fn unreact(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        emoji: &str,
        reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        self.act(Action::Unreact(
            to.clone(),
            target.clone(),
            emoji.to_owned(),
            reaction.cloned(),
        ))
    }

    fn reaction_style(&self) -> crate::adapter::ReactionStyle {
        self.style
    }

    /// A named chat is itself (fatal when made missing); "auto" becomes `auto-<source chat>`.
    async fn resolve_chat(
        &self,
        source: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        let now = self.resolving.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.resolving);
        self.max_resolving.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let next_error = {
            let mut errors = self
                .resolve_errors
                .lock()
                .map_err(|_| AdapterError::fatal("poisoned"))?;
            (!errors.is_empty()).then(|| errors.remove(0))
        };
        if let Some(e) = next_error {
            return Err(e);
        }
        let chat = match requested {
            Some(chat) => {
                let missing = self
                    .missing
                    .lock()
                    .map_err(|_| AdapterError::fatal("poisoned"))?
                    .contains(chat);
                if missing {
                    return Err(AdapterError::fatal(format!("no chat {chat}")));
                }
                chat.clone()
            }
            None => ChatId::new(format!("auto-{}", source.chat.chat)),
        };
        self.resolved.fetch_add(1, Ordering::SeqCst);
        Ok(chat)
    }

    async fn check(&self, _to: &ChatId) -> Result<(), AdapterError> {
        Ok(())
    }
}
