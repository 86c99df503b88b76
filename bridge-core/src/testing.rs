//! In-memory fakes of a history source and a sink, for engine tests (feature `testing`).
//!
//! They behave like well-mannered platforms: the history pages by cursor, the sink assigns IDs,
//! can be told to fail in scripted ways, and records everything it accepted so tests can assert
//! on exactly what arrived. Both yield to the scheduler inside their calls, so a test that drops
//! a run after N polls can interrupt them between "delivered" and "answered", like a crash.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::{
    adapter::{AdapterError, Outgoing, Sink, TextPart},
    ids::{ChatId, MsgId, MsgRef, Platform},
    model::{ChatInfo, Content, Message, Sender},
};

mod history;
mod sink;

pub use history::{FakeHistory, text_message};

/// One part the fake sink accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The chat it went to.
    pub to: ChatId,
    /// The ID the sink gave it.
    pub id: MsgId,
    /// The source message.
    pub origin: MsgRef,
    /// The part number.
    pub part: u32,
    /// The translated reply target it was sent with.
    pub reply_to: Option<MsgId>,
    /// The text of the source message; with [`FakeSink::split_text`], the part's share of it
    /// (or the file name, for a file part).
    pub text: String,
    /// When (tokio's clock) it arrived.
    pub at: tokio::time::Instant,
}

/// An edit, delete or reaction the fake sink was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `edit(to, target, …, content.text)`.
    Edit(ChatId, MsgId, String),
    /// `delete(to, target)`.
    Delete(ChatId, MsgId),
    /// `react(to, target, sender name, emoji)`; the reaction got ID `r-<n>`.
    React(ChatId, MsgId, String, String),
    /// `unreact(to, target, emoji, reaction id)`.
    Unreact(ChatId, MsgId, String, Option<MsgId>),
}

/// What the fake sink does with a given part.
pub enum Script {
    /// Fail with these errors, in order, then accept.
    FailFirst(Vec<AdapterError>),
    /// Reject for good with this reason.
    Reject(String),
    /// Deliver, then fail with this error once, as if the answer was lost in a crash.
    DeliverThenFail(AdapterError),
}

/// An in-memory sink that records what it accepts.
pub struct FakeSink {
    platform: Platform,
    delivered: Mutex<Vec<Delivered>>,
    scripts: Mutex<HashMap<(String, u32), Script>>,
    parts: Box<dyn Fn(&Message) -> u32 + Send + Sync>,
    text_limit: Option<usize>,
    /// Actions to let through, then errors for the next ones.
    action_errors: Mutex<(usize, VecDeque<AdapterError>)>,
    latency: Duration,
    can_find: bool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    found: AtomicUsize,
    resolve_errors: Mutex<Vec<AdapterError>>,
    missing: Mutex<Vec<ChatId>>,
    actions: Mutex<Vec<Action>>,
    style: crate::adapter::ReactionStyle,
    resolving: AtomicUsize,
    max_resolving: AtomicUsize,
    resolved: AtomicUsize,
    /// Whether [`Sink::read_back`] tells each post's source part (as Matrix does; Discord
    /// does not).
    sources: bool,
}

/// Counts a send as in flight until dropped (a dropped send future counts too).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeSink {
    /// A sink on `platform` that accepts everything, one part per message, instantly.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            delivered: Mutex::new(Vec::new()),
            scripts: Mutex::new(HashMap::new()),
            parts: Box::new(|_| 1),
            text_limit: None,
            action_errors: Mutex::new((0, VecDeque::new())),
            latency: Duration::ZERO,
            can_find: true,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            found: AtomicUsize::new(0),
            resolve_errors: Mutex::new(Vec::new()),
            missing: Mutex::new(Vec::new()),
            actions: Mutex::new(Vec::new()),
            style: crate::adapter::ReactionStyle::Shared,
            resolving: AtomicUsize::new(0),
            max_resolving: AtomicUsize::new(0),
            resolved: AtomicUsize::new(0),
            sources: true,
        }
    }

    /// Keeps reactions per user (like Matrix ghosts) instead of one shared per emoji.
    pub fn per_user_reactions(mut self) -> Self {
        self.style = crate::adapter::ReactionStyle::PerUser;
        self
    }

    /// Every edit, delete, reaction and unreaction made so far, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.actions.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn act(&self, action: Action) -> Result<(), AdapterError> {
        let failure = {
            let mut errors = self
                .action_errors
                .lock()
                .map_err(|_| AdapterError::fatal("poisoned"))?;
            match errors.0 {
                0 => errors.1.pop_front(),
                _ => {
                    errors.0 -= 1;
                    None
                }
            }
        };
        if let Some(e) = failure {
            return Err(e);
        }
        self.actions
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?
            .push(action);
        Ok(())
    }

    /// Makes the next calls of `resolve_chat` fail with `errors`, in order.
    pub fn fail_resolve(&self, errors: Vec<AdapterError>) {
        if let Ok(mut e) = self.resolve_errors.lock() {
            e.extend(errors);
        }
    }

    /// Makes `chat` a chat that does not exist: resolving it is fatal.
    pub fn without_chat(&self, chat: &str) {
        if let Ok(mut m) = self.missing.lock() {
            m.push(ChatId::new(chat));
        }
    }

    /// The most `resolve_chat` calls that were ever in progress at the same time.
    pub fn max_resolving(&self) -> usize {
        self.max_resolving.load(Ordering::SeqCst)
    }

    /// How many `resolve_chat` calls succeeded.
    pub fn resolved_count(&self) -> usize {
        self.resolved.load(Ordering::SeqCst)
    }

    /// Decides how many parts each message becomes.
    pub fn with_parts(mut self, f: impl Fn(&Message) -> u32 + Send + Sync + 'static) -> Self {
        self.parts = Box::new(f);
        self
    }

    /// Splits each message's text into parts of at most `limit` characters, one message each,
    /// followed by one part per file: like a target with a length limit per message. Edits
    /// then rewrite each part with its share ([`Sink::edit_text`]) and add parts
    /// ([`Sink::send_text`]).
    pub fn split_text(mut self, limit: usize) -> Self {
        self.text_limit = Some(limit.max(1));
        self
    }

    /// Lets the next `after` edits, deletes, reactions and unreactions through, then makes the
    /// following ones fail with `errors`, in order (nothing is recorded for a failed one).
    pub fn fail_actions(&self, after: usize, errors: Vec<AdapterError>) {
        if let Ok(mut e) = self.action_errors.lock() {
            e.0 = after;
            e.1.extend(errors);
        }
    }

    /// The shares of `text`, with [`FakeSink::split_text`] (else the whole text).
    fn chunks(&self, text: &str) -> Vec<String> {
        let Some(limit) = self.text_limit else {
            return vec![text.to_owned()];
        };
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return vec![String::new()];
        }
        chars.chunks(limit).map(|c| c.iter().collect()).collect()
    }

    /// What part `part` of `msg` shows: its share of the text, or its file's name.
    fn part_text(&self, msg: &Message, part: u32) -> String {
        if self.text_limit.is_none() {
            return msg.content.text.clone();
        }
        let chunks = self.chunks(&msg.content.text);
        let i = part as usize;
        match chunks.get(i) {
            Some(chunk) => chunk.clone(),
            None => msg
                .content
                .attachments
                .get(i - chunks.len())
                .map(|a| a.name.clone())
                .unwrap_or_default(),
        }
    }

    /// Records one delivered message; returns its new ID.
    fn record(&self, to: &ChatId, d: Delivered) -> Result<MsgId, AdapterError> {
        let mut all = self
            .delivered
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?;
        let id = MsgId::new(format!("{}-{}", to, all.len() + 1));
        all.push(Delivered {
            id: id.clone(),
            ..d
        });
        Ok(id)
    }

    /// Makes [`Sink::read_back`] tell no post's source, like a target that keeps none.
    pub fn without_sources(mut self) -> Self {
        self.sources = false;
        self
    }

    /// The delivered part `part` of `origin`'s copy in `to`, counted as found.
    fn find_part(
        &self,
        to: &ChatId,
        origin: &MsgRef,
        part: u32,
    ) -> Result<Option<MsgId>, AdapterError> {
        let d = self
            .delivered
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?;
        let hit = d
            .iter()
            .find(|x| &x.to == to && &x.origin == origin && x.part == part)
            .map(|x| x.id.clone());
        if hit.is_some() {
            self.found.fetch_add(1, Ordering::SeqCst);
        }
        Ok(hit)
    }

    /// Posts the part `id` again, as someone re-posting a copy by hand would; the new ID.
    ///
    /// # Panics
    /// When `id` was never delivered.
    pub fn repost(&self, id: &MsgId) -> MsgId {
        let original = self
            .delivered()
            .into_iter()
            .find(|d| &d.id == id)
            .expect("a delivered part");
        let to = original.to.clone();
        self.record(&to, original).expect("recorded")
    }

    /// Makes every send take `latency` (on tokio's clock).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Makes `find_sent` unsupported, like a platform that cannot be read back.
    pub fn without_find(mut self) -> Self {
        self.can_find = false;
        self
    }

    /// Scripts what happens to part `part` of source message `msg`.
    pub fn script(&self, msg: &str, part: u32, script: Script) {
        if let Ok(mut s) = self.scripts.lock() {
            s.insert((msg.to_owned(), part), script);
        }
    }

    /// The most sends that were ever in progress at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many times `find_sent` found a part that had arrived (a crash after delivery).
    pub fn found_count(&self) -> usize {
        self.found.load(Ordering::SeqCst)
    }

    /// Everything accepted so far, in arrival order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// What the script for part `part` of `msg` says: fail before delivering (`Err`), deliver
    /// then fail (`Ok(Some)`), or deliver.
    fn scripted(&self, msg: &Message, part: u32) -> Result<Option<AdapterError>, AdapterError> {
        let mut scripts = self
            .scripts
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?;
        let key = (msg.origin.msg.as_str().to_owned(), part);
        match scripts.get_mut(&key) {
            Some(Script::Reject(reason)) => Err(AdapterError::rejected(reason.clone())),
            Some(Script::FailFirst(errors)) if !errors.is_empty() => Err(errors.remove(0)),
            Some(Script::DeliverThenFail(_)) => match scripts.remove(&key) {
                Some(Script::DeliverThenFail(e)) => Ok(Some(e)),
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }
}
