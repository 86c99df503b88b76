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
use chrono::{DateTime, TimeZone, Utc};

use crate::{
    adapter::{AdapterError, HistorySource, Outgoing, Page, Sink},
    ids::{ChatId, ChatRef, Cursor, MsgId, MsgRef, Platform, UserId},
    model::{ChatInfo, Content, Message, MessageKind, Sender},
};

/// Builds a plain text message `id` in `chat`, sent `id` minutes after a fixed epoch.
pub fn text_message(chat: &ChatRef, id: u64, text: &str) -> Message {
    let sent_at: DateTime<Utc> = Utc
        .timestamp_opt(1_600_000_000 + id as i64 * 60, 0)
        .single()
        .unwrap_or_default();
    Message {
        origin: chat.msg(id.to_string()),
        sender: Sender {
            id: UserId::new("alice"),
            name: "alice".into(),
            avatar: None,
        },
        sent_at,
        kind: MessageKind::Normal,
        content: Content::plain(text),
        reply_to: None,
        reactions: Vec::new(),
        edited: false,
    }
}

/// An in-memory chat history; the cursor is the index of the next message.
pub struct FakeHistory {
    platform: Platform,
    chats: HashMap<ChatId, Vec<Message>>,
    /// Errors to return from the next `page` calls, in order.
    failures: Mutex<VecDeque<AdapterError>>,
}

impl FakeHistory {
    /// An empty history on `platform`.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            chats: HashMap::new(),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds a chat with its messages, oldest first.
    pub fn with_chat(mut self, chat: ChatId, messages: Vec<Message>) -> Self {
        self.chats.insert(chat, messages);
        self
    }

    /// Makes the next `page` call fail with `error` (queued after earlier ones).
    pub fn fail_next(&self, error: AdapterError) {
        if let Ok(mut f) = self.failures.lock() {
            f.push_back(error);
        }
    }
}

#[async_trait]
impl HistorySource for FakeHistory {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn page(
        &self,
        chat: &ChatId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, AdapterError> {
        tokio::task::yield_now().await;
        if let Some(e) = self.failures.lock().ok().and_then(|mut f| f.pop_front()) {
            return Err(e);
        }
        let all = self
            .chats
            .get(chat)
            .ok_or_else(|| AdapterError::fatal("no such chat"))?;
        let start: usize = match after {
            Some(c) => c
                .as_str()
                .parse()
                .map_err(|_| AdapterError::fatal("bad cursor"))?,
            None => 0,
        };
        let end = (start + limit).min(all.len());
        let messages = all.get(start..end).unwrap_or_default().to_vec();
        let next = (end < all.len()).then(|| Cursor::new(end.to_string()));
        Ok(Page { messages, next })
    }

    async fn count(&self, chat: &ChatId) -> Result<Option<u64>, AdapterError> {
        Ok(self.chats.get(chat).map(|m| m.len() as u64))
    }
}

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
    /// The text of the source message.
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
}

/// An in-memory sink that records what it accepts.
pub struct FakeSink {
    platform: Platform,
    delivered: Mutex<Vec<Delivered>>,
    scripts: Mutex<HashMap<(String, u32), Script>>,
    parts: Box<dyn Fn(&Message) -> u32 + Send + Sync>,
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

    fn scripted(&self, out: &Outgoing<'_>) -> Result<(), AdapterError> {
        let mut scripts = self
            .scripts
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?;
        let key = (out.msg.origin.msg.as_str().to_owned(), out.part);
        match scripts.get_mut(&key) {
            Some(Script::Reject(reason)) => Err(AdapterError::rejected(reason.clone())),
            Some(Script::FailFirst(errors)) if !errors.is_empty() => Err(errors.remove(0)),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for FakeSink {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn parts(&self, msg: &Message) -> u32 {
        (self.parts)(msg)
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
        self.scripted(&out)?;
        let id = {
            let mut d = self
                .delivered
                .lock()
                .map_err(|_| AdapterError::fatal("poisoned"))?;
            let id = MsgId::new(format!("{}-{}", to, d.len() + 1));
            d.push(Delivered {
                to: to.clone(),
                id: id.clone(),
                origin: out.msg.origin.clone(),
                part: out.part,
                reply_to: out.reply_to.cloned(),
                text: out.msg.content.text.clone(),
                at: tokio::time::Instant::now(),
            });
            id
        };
        // Delivered but not yet answered: a drop here is a crash after the target got it.
        tokio::task::yield_now().await;
        Ok(id)
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
        let d = self
            .delivered
            .lock()
            .map_err(|_| AdapterError::fatal("poisoned"))?;
        let hit = d
            .iter()
            .find(|x| &x.to == to && x.origin == out.msg.origin && x.part == out.part)
            .map(|x| x.id.clone());
        if hit.is_some() {
            self.found.fetch_add(1, Ordering::SeqCst);
        }
        Ok(hit)
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
