//! Setting up a target chat: finding, adopting or creating it for a source chat, retried like
//! sends, one setup at a time per platform (across processes too: two links of one team must
//! not both create the team's category or space). Backfill jobs run it first; the live relay
//! runs it for links that do not backfill.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Backfill, BackfillError, Target};
use crate::{
    adapter::{AdapterError, Sink},
    ids::ChatRef,
    lease::with_lease,
    model::ChatInfo,
    report::Report,
    store::LeaseInfo,
};

impl Backfill {
    /// The chat `to` stands for, for the source chat `info` of link `link`: found, adopted or
    /// created by `sink` (retried as sends are), under the `setup:<platform>` lease.
    ///
    /// # Errors
    /// [`BackfillError::Setup`] when the chat cannot be set up for good or past the retry
    /// policy; [`BackfillError::Store`] when the lease cannot be taken.
    pub async fn set_up(
        &self,
        link: &Arc<str>,
        info: &ChatInfo,
        sink: &dyn Sink,
        to: &Target,
    ) -> Result<ChatRef, BackfillError> {
        let on_retry = |e: &AdapterError, d: Duration| {
            warn!(link = %link, to = %to.shown(), error = %Report::new(e), retry_after = ?d,
                "retrying");
        };
        let on_busy = |busy: &LeaseInfo| {
            warn!(link = %link, lease = %busy.name, holder = %busy.holder,
                "another kbbridge process is setting up chats here; waiting for it");
        };
        self.set_up_with(link, info, sink, to, on_retry, on_busy)
            .await
    }

    /// [`Backfill::set_up`], telling `on_retry` of each retry and `on_busy` of each holder of
    /// the setup lease it waits for.
    pub(super) async fn set_up_with(
        &self,
        link: &Arc<str>,
        info: &ChatInfo,
        sink: &dyn Sink,
        to: &Target,
        on_retry: impl FnMut(&AdapterError, Duration),
        on_busy: impl FnMut(&LeaseInfo),
    ) -> Result<ChatRef, BackfillError> {
        let platform = to.platform();
        let requested = match to {
            Target::Named(chat) => Some(chat.chat.clone()),
            Target::Auto(_) => None,
        };
        let setup = self
            .options
            .retry
            .run(|| sink.resolve_chat(info, requested.as_ref()), on_retry);
        // The caller's cancellation drops this future; the setup needs no other stop signal.
        let never = CancellationToken::new();
        let resolved = with_lease(
            &self.store,
            &format!("setup:{platform}"),
            &self.lease,
            &never,
            on_busy,
            setup,
        )
        .await?;
        match resolved {
            None => Err(BackfillError::Cancelled),
            Some(Ok(chat)) => {
                info!(link = %link, from = %info.chat, platform = %platform, chat = %chat,
                    "target resolved");
                Ok(ChatRef { platform, chat })
            }
            // A sink that cannot resolve chats writes to the named chat as it is.
            Some(Err(AdapterError::Unsupported(_))) if requested.is_some() => Ok(to.shown()),
            Some(Err(error)) => Err(BackfillError::Setup {
                chat: to.shown(),
                error,
            }),
        }
    }
}
