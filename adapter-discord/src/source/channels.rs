//! [`KnownChannels`]: the Discord channels whose events are relayed, shared with whoever adds
//! links while the source runs.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::Notify;

/// The channel IDs being relayed. Cloning shares the set: a link added or removed through any
/// clone reaches a running [`crate::DiscordSource`] at once (a channel added while it runs is
/// followed from its newest message, or caught up from its stored position).
#[derive(Clone, Debug, Default)]
pub struct KnownChannels {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: Mutex<BTreeSet<u64>>,
    /// Woken on every change; a change made while nobody waits leaves a permit, so the source
    /// never misses one.
    changed: Notify,
}

impl KnownChannels {
    /// A set holding `channels`.
    pub fn new(channels: impl IntoIterator<Item = u64>) -> Self {
        let known = Self::default();
        known.lock().extend(channels);
        known
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.inner
            .set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts relaying `channel`; whether it was new.
    pub fn insert(&self, channel: u64) -> bool {
        let added = self.lock().insert(channel);
        if added {
            self.inner.changed.notify_one();
        }
        added
    }

    /// Stops relaying `channel`; whether it was known.
    pub fn remove(&self, channel: u64) -> bool {
        let removed = self.lock().remove(&channel);
        if removed {
            self.inner.changed.notify_one();
        }
        removed
    }

    /// Whether `channel` is relayed.
    pub fn contains(&self, channel: u64) -> bool {
        self.lock().contains(&channel)
    }

    /// The channels relayed now.
    pub fn snapshot(&self) -> BTreeSet<u64> {
        self.lock().clone()
    }

    /// Waits for the next change.
    pub(crate) async fn changed(&self) {
        self.inner.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_made_before_waiting_is_not_missed() {
        let known = KnownChannels::new([1, 2]);
        let clone = known.clone();
        assert!(clone.insert(3));
        assert!(!clone.insert(3));
        // The permit left by `insert` wakes the waiter at once.
        tokio::time::timeout(std::time::Duration::from_secs(1), known.changed())
            .await
            .unwrap();
        assert_eq!(known.snapshot(), BTreeSet::from([1, 2, 3]));
        assert!(known.remove(1));
        assert!(!known.contains(1));
    }
}
