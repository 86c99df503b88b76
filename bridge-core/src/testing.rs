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

use async_trait::async_trait;

use crate::{
    adapter::{AdapterError, Outgoing, Sink, TextPart},
    ids::{ChatId, MsgId, MsgRef, Platform},
    model::{ChatInfo, Content, Message, Sender},
};

mod history;

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

#[async_trait]
impl Sink for FakeSink {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn parts(&self, msg: &Message) -> u32 {
        match self.text_limit {
            Some(_) => {
                let parts = self.chunks(&msg.content.text).len() + msg.content.attachments.len();
                u32::try_from(parts).unwrap_or(u32::MAX)
            }
            None => (self.parts)(msg),
        }
    }

    fn text_parts(&self, msg: &Message) -> u32 {
        u32::try_from(self.chunks(&msg.content.text).len()).unwrap_or(u32::MAX)
    }

    /// A note for each attachment the source could not supply.
    fn degraded(&self, msg: &Message) -> Vec<String> {
        msg.content
            .attachments
            .iter()
            .filter_map(|a| a.unavailable_reason().map(|why| a.not_copied(why)))
            .collect()
    }

    async fn send(&self, to: &ChatId, out: Outgoing<'_>) -> Result<MsgId, AdapterError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let lost = self.scripted(out.msg, out.part)?;
        let id = self.record(
            to,
            Delivered {
                to: to.clone(),
                id: MsgId::new(""),
                origin: out.msg.origin.clone(),
                part: out.part,
                reply_to: out.reply_to.cloned(),
                text: self.part_text(out.msg, out.part),
                at: tokio::time::Instant::now(),
            },
        )?;
        // Delivered but not yet answered: a drop here is a crash after the target got it.
        tokio::task::yield_now().await;
        match lost {
            Some(e) => Err(e),
            None => Ok(id),
        }
    }

    /// What was delivered to `chat`, with the deletes and edits asked for since; each says
    /// its source part, as Matrix events do.
    async fn read_back(&self, chat: &ChatId) -> Result<Vec<crate::Posted>, AdapterError> {
        let actions = self.actions();
        Ok(self
            .delivered()
            .into_iter()
            .filter(|d| &d.to == chat)
            .map(|d| crate::Posted {
                gone: actions
                    .iter()
                    .any(|a| matches!(a, Action::Delete(c, id) if c == chat && id == &d.id)),
                edited: actions
                    .iter()
                    .any(|a| matches!(a, Action::Edit(c, id, _) if c == chat && id == &d.id)),
                ours: true,
                source: self.sources.then_some((d.origin, d.part)),
                text: d.text,
                id: d.id,
            })
            .collect())
    }

    async fn find_sent(
        &self,
        to: &ChatId,
        out: Outgoing<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a sent message"));
        }
        tokio::task::yield_now().await;
        self.find_part(to, &out.msg.origin, out.part)
    }

    async fn find_copy(
        &self,
        to: &ChatId,
        origin: &MsgRef,
        part: u32,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a copy by its source"));
        }
        self.find_part(to, origin, part)
    }

    async fn edit(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        content: &Content,
    ) -> Result<(), AdapterError> {
        self.act(Action::Edit(
            to.clone(),
            target.clone(),
            content.text.clone(),
        ))
    }

    /// Records the part's share of the new text.
    async fn edit_text(
        &self,
        to: &ChatId,
        target: &MsgId,
        text: TextPart<'_>,
    ) -> Result<(), AdapterError> {
        let share = self
            .chunks(&text.msg.content.text)
            .into_iter()
            .nth(text.index as usize)
            .unwrap_or_default();
        self.act(Action::Edit(to.clone(), target.clone(), share))
    }

    /// Delivers the part's share of the new text (scripted like a send of that part).
    async fn send_text(&self, to: &ChatId, text: TextPart<'_>) -> Result<MsgId, AdapterError> {
        tokio::task::yield_now().await;
        let lost = self.scripted(text.msg, text.part)?;
        let share = self
            .chunks(&text.msg.content.text)
            .into_iter()
            .nth(text.index as usize)
            .unwrap_or_default();
        let id = self.record(
            to,
            Delivered {
                to: to.clone(),
                id: MsgId::new(""),
                origin: text.msg.origin.clone(),
                part: text.part,
                reply_to: None,
                text: share,
                at: tokio::time::Instant::now(),
            },
        )?;
        match lost {
            Some(e) => Err(e),
            None => Ok(id),
        }
    }

    async fn find_text(
        &self,
        to: &ChatId,
        text: TextPart<'_>,
    ) -> Result<Option<MsgId>, AdapterError> {
        if !self.can_find {
            return Err(AdapterError::Unsupported("finding a sent text part"));
        }
        self.find_part(to, &text.msg.origin, text.part)
    }

    async fn delete(&self, to: &ChatId, target: &MsgId) -> Result<(), AdapterError> {
        self.act(Action::Delete(to.clone(), target.clone()))
    }

    async fn react(
        &self,
        to: &ChatId,
        target: &MsgId,
        sender: &Sender,
        emoji: &str,
    ) -> Result<Option<MsgId>, AdapterError> {
        let n = self.actions().len();
        self.act(Action::React(
            to.clone(),
            target.clone(),
            sender.name.clone(),
            emoji.to_owned(),
        ))?;
        Ok(Some(MsgId::new(format!("r-{n}"))))
    }

    async fn unreact(
        &self,
        to: &ChatId,
        target: &MsgId,
        _sender: &Sender,
        emoji: &str,
        reaction: Option<&MsgId>,
    ) -> Result<(), AdapterError> {
        self.act(Action::Unreact(
            to.clone(),
            target.clone(),
            emoji.to_owned(),
            reaction.cloned(),
        ))
    }

    fn reaction_style(&self) -> crate::adapter::ReactionStyle {
        self.style
    }

    /// A named chat is itself (fatal when made missing); "auto" becomes `auto-<source chat>`.
    async fn resolve_chat(
        &self,
        source: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<ChatId, AdapterError> {
        let now = self.resolving.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.resolving);
        self.max_resolving.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let next_error = {
            let mut errors = self
                .resolve_errors
                .lock()
                .map_err(|_| AdapterError::fatal("poisoned"))?;
            (!errors.is_empty()).then(|| errors.remove(0))
        };
        if let Some(e) = next_error {
            return Err(e);
        }
        let chat = match requested {
            Some(chat) => {
                let missing = self
                    .missing
                    .lock()
                    .map_err(|_| AdapterError::fatal("poisoned"))?
                    .contains(chat);
                if missing {
                    return Err(AdapterError::fatal(format!("no chat {chat}")));
                }
                chat.clone()
            }
            None => ChatId::new(format!("auto-{}", source.chat.chat)),
        };
        self.resolved.fetch_add(1, Ordering::SeqCst);
        Ok(chat)
    }

    async fn check(&self, _to: &ChatId) -> Result<(), AdapterError> {
        Ok(())
    }
}
