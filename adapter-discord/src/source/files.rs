//! Attachments of live Discord messages: downloaded from their CDN URL when a sink reads them,
//! through kbbridge's own HTTP client (the one `connect_to` and `ca_file` configure).

use async_trait::async_trait;
use bridge_core::model::Blob;

/// One attachment, by its URL.
pub(crate) struct DiscordFile {
    pub(crate) client: reqwest::Client,
    pub(crate) url: String,
    /// Its attachment ID, for logs: Discord's CDN URLs are signed, so they are not shown.
    pub(crate) id: u64,
}

#[async_trait]
impl Blob for DiscordFile {
    async fn read(&self) -> std::io::Result<Vec<u8>> {
        let fail = |e: reqwest::Error| {
            std::io::Error::other(format!(
                "downloading Discord attachment {}: {}",
                self.id,
                e.without_url()
            ))
        };
        let answer = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(fail)?
            .error_for_status()
            .map_err(fail)?;
        Ok(answer.bytes().await.map_err(fail)?.to_vec())
    }

    fn describe(&self) -> String {
        format!("Discord attachment {}", self.id)
    }
}
