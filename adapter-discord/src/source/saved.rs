//! The gateway session kept in the store between runs, so a restarted kbbridge RESUMEs it and
//! Discord replays what happened while it was down (edits, deletes and reactions included,
//! which the catch-up after a new session cannot see).
//!
//! One row per guild in the store's generic `target` table (kind [`KIND`]), holding JSON:
//! nothing of it is platform knowledge in bridge-core.

use std::{
    collections::BTreeSet,
    hash::{DefaultHasher, Hash, Hasher},
};

use bridge_core::{MappingStore, Platform, StoreError};
use serde::{Deserialize, Serialize};
use tracing::warn;

/// The `target` kind of the saved session.
pub(crate) const KIND: &str = "gateway-session";

/// A session to resume, as of the last sequence number whose events kbbridge applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Saved {
    /// Discord's session ID.
    pub(crate) id: String,
    /// READY's `resume_gateway_url`.
    pub(crate) url: String,
    /// Every event up to this sequence number (and every one before it) is applied.
    pub(crate) seq: u64,
    /// The bot's user ID (READY's, which a RESUME does not repeat).
    pub(crate) bot: u64,
    /// The channels whose catch-up was applied when `seq` was: the replay after `seq` covers
    /// them; any other channel is caught up from its stored position on resume.
    pub(crate) channels: BTreeSet<u64>,
    /// Which token opened the session ([`fingerprint`]): a session of another bot token is
    /// not resumed (Discord could refuse the token rather than the session).
    pub(crate) token: String,
}

/// A short, non-reversible mark of `token` (64 bits of SipHash). Its algorithm may change with
/// Rust; a mismatch only costs an IDENTIFY and a catch-up.
pub(crate) fn fingerprint(token: &str) -> String {
    let mut h = DefaultHasher::new();
    token.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The session saved for `guild` under `token`, if one is usable.
pub(crate) async fn load(
    store: &MappingStore,
    guild: u64,
    token: &str,
) -> Result<Option<Saved>, StoreError> {
    let Some(raw) = store
        .target(Platform::Discord, KIND, &guild.to_string())
        .await?
    else {
        return Ok(None);
    };
    match serde_json::from_str::<Saved>(&raw) {
        Ok(s) if s.token == fingerprint(token) => Ok(Some(s)),
        Ok(_) => Ok(None),
        Err(e) => {
            warn!(error = %e, "the saved gateway session is unreadable; identifying anew");
            Ok(None)
        }
    }
}

/// Saves `session` for `guild`, replacing the one saved before.
pub(crate) async fn save(
    store: &MappingStore,
    guild: u64,
    session: &Saved,
) -> Result<(), StoreError> {
    // Serializing plain strings and numbers cannot fail.
    let json = serde_json::to_string(session).unwrap_or_default();
    store
        .save_target(Platform::Discord, KIND, &guild.to_string(), &json, false)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_round_trips_and_another_tokens_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = MappingStore::open(&format!("sqlite://{}/s.db", dir.path().display()))
            .await
            .unwrap();
        assert_eq!(load(&store, 7, "t").await.unwrap(), None);
        let s = Saved {
            id: "abc".into(),
            url: "wss://x".into(),
            seq: 42,
            bot: 9,
            channels: BTreeSet::from([1, 2]),
            token: fingerprint("t"),
        };
        save(&store, 7, &s).await.unwrap();
        assert_eq!(load(&store, 7, "t").await.unwrap(), Some(s));
        assert_eq!(load(&store, 7, "other").await.unwrap(), None);
        assert_eq!(load(&store, 8, "t").await.unwrap(), None);
    }
}
