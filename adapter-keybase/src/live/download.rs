//! Attachments of live messages, fetched when a sink reads them: `download` through the shared
//! `chat api` process into a temporary file, read, and removed.

use std::sync::Arc;

use async_trait::async_trait;
use bridge_core::model::Blob;
use tokio::sync::Mutex;

use crate::cli::{ApiProcess, requests::DownloadOptions};

/// Downloads attachments through one `chat api` process.
#[derive(Clone)]
pub struct Downloader {
    api: Arc<Mutex<ApiProcess>>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Downloader")
    }
}

impl Downloader {
    /// A downloader using `api` (shared with the other users of that process).
    pub fn new(api: Arc<Mutex<ApiProcess>>) -> Self {
        Self { api }
    }

    /// The bytes of attachment `id` of conversation `conv`, named `name`, read on demand.
    pub fn blob(&self, conv: &str, id: u64, name: &str) -> KeybaseBlob {
        KeybaseBlob {
            api: Arc::clone(&self.api),
            conversation_id: conv.to_owned(),
            message_id: id,
            name: name.to_owned(),
        }
    }
}

/// One attachment of a live Keybase message.
pub struct KeybaseBlob {
    api: Arc<Mutex<ApiProcess>>,
    conversation_id: String,
    message_id: u64,
    name: String,
}

#[async_trait]
impl Blob for KeybaseBlob {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        let file = tempfile::Builder::new()
            .prefix("kbbridge-attachment-")
            .tempfile()?;
        let output = file.path().to_string_lossy().into_owned();
        let options = DownloadOptions {
            conversation_id: self.conversation_id.clone(),
            message_id: self.message_id,
            output,
        };
        self.api
            .lock()
            .await
            .call("download", &options)
            .await
            .map_err(std::io::Error::other)?;
        // The temporary file is removed when `file` drops.
        tokio::fs::read(file.path()).await
    }

    fn describe(&self) -> String {
        format!(
            "keybase attachment {} (message {} of conversation {})",
            self.name, self.message_id, self.conversation_id
        )
    }
}
