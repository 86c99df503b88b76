//! What each part of the relay reports about itself, for `/ready`: a part is up or down, with
//! a word on why. Parts report as they start, fail and stop.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use serde::Serialize;

/// One part's state.
#[derive(Clone, Debug, Serialize)]
pub struct PartState {
    /// Up.
    pub ok: bool,
    /// What it is doing, or why it is down.
    pub detail: String,
}

/// The parts' states, shared by the parts and the listener.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Mutex<BTreeMap<String, PartState>>>);

impl Readiness {
    /// Part `name` is up, doing `detail`.
    pub fn up(&self, name: &str, detail: impl Into<String>) {
        self.set(name, true, detail.into());
    }

    /// Part `name` is down, because `detail`.
    pub fn down(&self, name: &str, detail: impl Into<String>) {
        self.set(name, false, detail.into());
    }

    fn set(&self, name: &str, ok: bool, detail: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), PartState { ok, detail });
    }

    /// Every part's state, by name.
    pub fn parts(&self) -> BTreeMap<String, PartState> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
