//! The delivery side's part in resuming a session across restarts: following the channels a
//! saved session covers before its replay comes, and saving the session as the relay applies
//! its events.

use std::time::Duration;

use tracing::{info, warn};

use super::{
    acks::Acks,
    deliver::{Deliver, Stop},
    protocol,
    saved::{self, Saved},
};

/// How often, at most, the session is saved (and once more when delivery stops). A crash
/// loses at most this much progress: those events are replayed on resume, and the relay's
/// journal skips the ones it already applied.
pub(super) const SAVE_EVERY: Duration = Duration::from_millis(250);

impl Deliver<'_> {
    /// Before the replay of `saved` comes: its channels are followed as they were (the replay
    /// covers them), and the others caught up (or given their start position) as after
    /// READY. Should Discord refuse the resume, the READY that follows starts over.
    pub(super) async fn resuming(&mut self, saved: Saved) -> Result<(), Stop> {
        let known = self.channels.snapshot();
        let covered: std::collections::BTreeSet<u64> =
            saved.channels.intersection(&known).copied().collect();
        info!(
            seq = saved.seq,
            channels = covered.len(),
            "resuming the gateway session of the last run"
        );
        self.bot = Some(saved.bot);
        self.session = Some((saved.id.clone(), saved.url.clone()));
        self.acks = Acks::resumed(saved.seq, covered.clone());
        self.followed = covered;
        self.saved = Some(saved);
        self.sync().await
    }

    /// Saves the session as far as the relay has applied it, when that changed.
    pub(super) async fn save(&mut self) {
        self.acks.advance();
        let (Some((id, url)), Some(bot)) = (&self.session, self.bot) else {
            return;
        };
        if self.acks.applied() == 0 {
            // READY itself is not applied yet: nothing of this session to resume.
            return;
        }
        let session = Saved {
            id: id.clone(),
            url: url.clone(),
            seq: self.acks.applied(),
            bot,
            channels: self
                .acks
                .caught()
                .intersection(&self.followed)
                .copied()
                .collect(),
            token: saved::fingerprint(protocol::bare_token(self.sink.rest.token())),
        };
        if self.saved.as_ref() == Some(&session) {
            return;
        }
        match saved::save(&self.sink.store, self.sink.guild, &session).await {
            Ok(()) => self.saved = Some(session),
            Err(e) => {
                warn!(error = %e, "cannot save the gateway session; a restart may identify anew and miss edits made meanwhile");
            }
        }
    }
}
