//! The fake history source, and the messages tests build for it.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use crate::{
    adapter::{AdapterError, HistorySource, Page},
    ids::{ChatId, ChatRef, Cursor, Platform, UserId},
    model::{Content, Message, MessageKind, Sender},
};

/// Builds a plain text message `id` in `chat`, sent `id` minutes after a fixed epoch.
pub fn text_message(chat: &ChatRef, id: u64, text: &str) -> Message {
    let sent_at: DateTime<Utc> = Utc
        .timestamp_opt(1_600_000_000 + id as i64 * 60, 0)
        .single()
        .unwrap_or_default();
    Message {
        origin: chat.msg(id.to_string()),
        sender: Sender {
            id: UserId::new("alice"),
            name: "alice".into(),
            avatar: None,
        },
        sent_at,
        kind: MessageKind::Normal,
        content: Content::plain(text),
        reply_to: None,
        reactions: Vec::new(),
        edited: false,
    }
}

/// An in-memory chat history; the cursor is the index of the next message.
pub struct FakeHistory {
    platform: Platform,
    chats: HashMap<ChatId, Vec<Message>>,
    /// Errors to return from the next `page` calls, in order.
    failures: Mutex<VecDeque<AdapterError>>,
}

impl FakeHistory {
    /// An empty history on `platform`.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            chats: HashMap::new(),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds a chat with its messages, oldest first.
    pub fn with_chat(mut self, chat: ChatId, messages: Vec<Message>) -> Self {
        self.chats.insert(chat, messages);
        self
    }

    /// Makes the next `page` call fail with `error` (queued after earlier ones).
    pub fn fail_next(&self, error: AdapterError) {
        if let Ok(mut f) = self.failures.lock() {
            f.push_back(error);
        }
    }
}

#[async_trait]
impl HistorySource for FakeHistory {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, AdapterError> {
        tokio::task::yield_now().await;
        if let Some(e) = self.failures.lock().ok().and_then(|mut f| f.pop_front()) {
            return Err(e);
        }
        let all = self
            .chats
            .get(chat)
            .ok_or_else(|| AdapterError::fatal("no such chat"))?;
        let start: usize = match after {
            Some(c) => c
                .as_str()
                .parse()
                .map_err(|_| AdapterError::fatal("bad cursor"))?,
            None => 0,
        };
        let end = (start + limit).min(all.len());
        let messages = all.get(start..end).unwrap_or_default().to_vec();
        let next = (end < all.len()).then(|| Cursor::new(end.to_string()));
        Ok(Page { messages, next })
    }

    async fn count(&self, chat: &ChatId) -> Result<Option<u64>, AdapterError> {
        Ok(self.chats.get(chat).map(|m| m.len() as u64))
    }
}
