//! [`KeybaseExport`] as a [`HistorySource`]: pages read on the blocking thread pool.

use async_trait::async_trait;
use bridge_core::{AdapterError, ChatId, ChatInfo, Cursor, HistorySource, Page, Platform};

use crate::{error::KeybaseError, export::KeybaseExport};

#[async_trait]
impl HistorySource for KeybaseExport {
    fn platform(&self) -> Platform {
        Platform::Keybase
    }

    /// Chat IDs are channel names (`acme#general`, `alice,bob`); cursors are decimal message
    /// IDs. See [`KeybaseExport::read_page`].
    async fn page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, AdapterError> {
        let export = self.clone();
        let (chat, after) = (chat.clone(), after.cloned());
        let page =
            tokio::task::spawn_blocking(move || export.read_page(&chat, after.as_ref(), limit))
                .await
                .map_err(|e| KeybaseError::Task(e.to_string()))?;
        Ok(page?)
    }

    /// Answered from the index, without reading the file.
    async fn count(&self, chat: &ChatId) -> Result<Option<u64>, AdapterError> {
        match self.message_count(chat.as_str()) {
            Some(n) => Ok(Some(n)),
            None => Err(self.unknown_chat(chat).into()),
        }
    }

    /// See [`KeybaseExport::describe_chat`].
    async fn chat_info(&self, chat: &ChatId) -> Result<ChatInfo, AdapterError> {
        self.describe_chat(chat)
            .ok_or_else(|| self.unknown_chat(chat).into())
    }
}
