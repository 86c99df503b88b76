//! A stand-in for Discord's REST API and gateway: **test equipment**, not part of the bridge
//! (only a dev-dependency of the crates that test against it). It serves HTTPS with a
//! self-signed certificate for `discord.com` (so serenity, with a `reqwest` client that resolves
//! `discord.com` here and trusts that certificate, runs unchanged, its own rate limiter
//! included), plain HTTP for attachment downloads and for `api_base` (proxy) mode, and a
//! gateway on a plain `ws://` port that `GET /gateway` points at, fed by what happens through
//! the REST API and by the people tests act as. `STANDIN.md` lists what it implements and where
//! it knowingly differs from Discord.
//!
//! # Files
//! - `tls.rs`: the certificate and the two listeners.
//! - `gate.rs`: faults, the 1015 block, the token, the global limit and per-route buckets.
//! - `limits.rs`: the figures and the fixed windows; `faults.rs`: fault injection.
//! - `routes/`: the handlers (guild, channels, webhooks, messages, and the message payload
//!   they share); `wire.rs`: the JSON they answer; `state.rs`: the world; `guild.rs`: its
//!   owner, roles and the bot's membership.
//! - `gateway/`: the WebSocket gateway (its own file list); `humans.rs`: the people tests act
//!   as.

mod faults;
mod filenames;
mod gate;
mod gateway;
mod guild;
mod humans;
mod limits;
mod routes;
mod state;
mod tls;
mod wire;

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use tokio::{sync::Notify, task::JoinHandle};

use self::{
    faults::Faults,
    gateway::{Gateway, dispatches},
    limits::Window,
    state::World,
};
pub use self::{
    faults::{Chaos, Fault, FaultTarget},
    gateway::{GatewayStats, SessionInfo, intents},
    guild::{BOT_DEFAULT, EVERYONE_DEFAULT, RoleInfo},
    limits::{BucketLimit, Limits},
    state::{
        CATEGORY, ChannelInfo, Human, RecordedFile, RecordedMessage, RecordedReaction, TEXT,
        WebhookInfo,
    },
};

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct StandInOptions {
    /// The bot token it accepts (`Authorization: Bot <token>`).
    pub token: String,
    /// Its rate limits and invalid-request budget.
    pub limits: Limits,
    /// The largest file accepted (Discord: 10 MiB); larger → 413, code 40005.
    pub max_file_size: u64,
    /// The largest multipart request accepted (Discord: 25 MiB).
    pub max_request_size: u64,
    /// The privileged intents the application has been granted in the Developer Portal
    /// ([`intents::PRIVILEGED`] bits); IDENTIFY asking for others is closed with 4014.
    pub privileged_intents: u64,
    /// The gateway's HELLO `heartbeat_interval` (Discord: 41.25 s).
    pub heartbeat_interval: Duration,
}

impl Default for StandInOptions {
    fn default() -> Self {
        Self {
            token: "standin-token".into(),
            limits: Limits::discord(),
            max_file_size: 10 * 1024 * 1024,
            max_request_size: 25 * 1024 * 1024,
            privileged_intents: intents::PRIVILEGED,
            heartbeat_interval: Duration::from_millis(41_250),
        }
    }
}

/// What the stand-in counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests to `/api/v10`.
    pub requests: u64,
    /// Handled requests by status.
    pub by_status: std::collections::BTreeMap<u16, u64>,
    /// 429s from a route bucket.
    pub route_429: u64,
    /// 429s from a route bucket that had already answered once (its limits were known).
    pub late_429: u64,
    /// 429s from the global limit.
    pub global_429: u64,
    /// 429s injected as faults.
    pub injected_429: u64,
    /// 5xx injected as faults.
    pub injected_5xx: u64,
    /// Connections dropped before handling.
    pub dropped: u64,
    /// Connections dropped after the request was handled.
    pub dropped_after_commit: u64,
    /// Answers given while the 1015 block was on.
    pub banned_answers: u64,
    /// Invalid requests (401, 403, 429) counted in all.
    pub invalid: u64,
}

/// The per-connection switch a handler pulls to close its connection without answering.
#[derive(Clone, Debug)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// The rate-limit windows.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    pub(crate) global: Window,
    pub(crate) buckets: HashMap<(&'static str, u64), Window>,
}

/// State shared by the handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) token: String,
    pub(crate) limits: Limits,
    pub(crate) max_file_size: u64,
    pub(crate) max_request_size: u64,
    pub(crate) http_addr: SocketAddr,
    pub(crate) gateway: Gateway,
    world: Mutex<World>,
    windows: Mutex<Windows>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    invalid: Mutex<VecDeque<Instant>>,
    banned_until: Mutex<Option<Instant>>,
}

/// Locks `m`, going on with the data if a panicking test thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Where attachment URLs point: the plain HTTP listener.
    pub(crate) fn files_base(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub(crate) fn lock_limits(&self) -> MutexGuard<'_, Windows> {
        lock(&self.windows)
    }

    pub(crate) fn lock_faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub(crate) fn stats(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    pub(crate) fn banned_until(&self) -> Option<Instant> {
        *lock(&self.banned_until)
    }

    /// Counts a 401, 403 or 429 answer against the invalid-request budget; spending it turns
    /// the 1015 block on.
    pub(crate) fn count_invalid(&self, status: StatusCode) {
        if !matches!(status.as_u16(), 401 | 403 | 429) {
            return;
        }
        self.stats(|s| s.invalid += 1);
        let now = Instant::now();
        let mut q = lock(&self.invalid);
        q.push_back(now);
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.limits.invalid_window)
        {
            q.pop_front();
        }
        if q.len() >= self.limits.invalid_budget as usize {
            *lock(&self.banned_until) = Some(now + self.limits.ban);
            q.clear();
        }
    }
}

/// A running stand-in; dropping it stops it.
pub struct StandIn {
    shared: Arc<Shared>,
    tls_addr: SocketAddr,
    ca_pem: String,
    tasks: Vec<JoinHandle<()>>,
}

impl StandIn {
    /// Starts the stand-in on three free ports of 127.0.0.1 (HTTPS, plain HTTP, the gateway).
    ///
    /// # Errors
    /// When a port cannot be bound or the certificate cannot be made.
    pub async fn start(options: StandInOptions) -> std::io::Result<StandIn> {
        let tls = tls::Tls::new()?;
        let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let gateway = Gateway::new(
            gateway_listener.local_addr()?,
            options.heartbeat_interval,
            options.privileged_intents,
        );
        let shared = Arc::new(Shared {
            token: options.token,
            limits: options.limits,
            max_file_size: options.max_file_size,
            max_request_size: options.max_request_size,
            http_addr: http_listener.local_addr()?,
            gateway,
            world: Mutex::new(World::new()),
            windows: Mutex::new(Windows::default()),
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
            invalid: Mutex::new(VecDeque::new()),
            banned_until: Mutex::new(None),
        });
        let router = routes::router(shared.clone());
        let tls_addr = tls_listener.local_addr()?;
        let ca_pem = tls.ca_pem.clone();
        let tasks = vec![
            tokio::spawn(tls::serve(tls_listener, Some(tls.acceptor), router.clone())),
            tokio::spawn(tls::serve(http_listener, None, router)),
            tokio::spawn(gateway::serve(gateway_listener, shared.clone())),
        ];
        Ok(StandIn {
            shared,
            tls_addr,
            ca_pem,
            tasks,
        })
    }

    /// The HTTPS address `discord.com` must resolve to.
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls_addr
    }

    /// The plain HTTP address (attachments, `api_base` mode: `http://{addr}`).
    pub fn http_addr(&self) -> SocketAddr {
        self.shared.http_addr
    }

    /// The PEM of the self-signed `discord.com` certificate, to trust in clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bot token accepted.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The guild's ID.
    pub fn guild_id(&self) -> u64 {
        self.shared.world().guild_id
    }

    /// The bot user's ID.
    pub fn bot_id(&self) -> u64 {
        self.shared.world().bot.id
    }

    /// Creates a channel directly (test setup: no request, no limit). Text channel names are
    /// normalized as Discord does.
    pub fn create_channel(&self, name: &str, kind: u8, parent_id: Option<u64>) -> u64 {
        let mut w = self.shared.world();
        let id = w.snowflake();
        let name = if kind == TEXT {
            state::normalize_text_channel_name(name)
        } else {
            name.to_owned()
        };
        w.channels.insert(
            id,
            ChannelInfo {
                id,
                kind,
                name,
                topic: None,
                parent_id,
                private: false,
            },
        );
        id
    }

    /// A guild that exists but the bot is not in (reading it answers 403, code 50001).
    pub fn other_guild_id(&self) -> u64 {
        self.shared.world().setup.other_guild
    }

    /// The guild's roles, `@everyone` (whose ID is the guild's) first.
    pub fn roles(&self) -> Vec<RoleInfo> {
        let w = self.shared.world();
        let mut roles: Vec<RoleInfo> = w.setup.roles.values().cloned().collect();
        roles.sort_by_key(|r| r.position);
        roles
    }

    /// The bot's own role (made with [`BOT_DEFAULT`]).
    pub fn bot_role_id(&self) -> u64 {
        let w = self.shared.world();
        w.setup.bot_roles.first().copied().unwrap_or(w.guild_id)
    }

    /// Sets a role's permission bits (`guild_id()` is `@everyone`); false if no such role.
    pub fn set_role_permissions(&self, role: u64, permissions: u64) -> bool {
        let mut w = self.shared.world();
        w.setup
            .roles
            .get_mut(&role)
            .map(|r| r.permissions = permissions)
            .is_some()
    }

    /// Adds a role with `permissions`, not given to anyone yet; returns its ID.
    pub fn add_role(&self, name: &str, permissions: u64) -> u64 {
        let mut w = self.shared.world();
        let id = w.snowflake();
        let position = u32::try_from(w.setup.roles.len()).unwrap_or(u32::MAX);
        w.setup.roles.insert(
            id,
            RoleInfo {
                id,
                name: name.to_owned(),
                permissions,
                position,
                managed: false,
            },
        );
        id
    }

    /// Sets the roles the bot has (besides `@everyone`, which every member has).
    pub fn set_bot_roles(&self, roles: &[u64]) {
        self.shared.world().setup.bot_roles = roles.to_vec();
    }

    /// Makes `user` the guild's owner (`bot_id()` makes the bot the owner).
    pub fn set_owner(&self, user: u64) {
        self.shared.world().setup.owner_id = user;
    }

    /// Makes `channel` private (`@everyone` denied View Channel) or not; false if unknown.
    pub fn set_private(&self, channel: u64, private: bool) -> bool {
        let mut w = self.shared.world();
        w.channels
            .get_mut(&channel)
            .map(|c| c.private = private)
            .is_some()
    }

    /// Every channel and category.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.shared.world().channels.values().cloned().collect()
    }

    /// Every webhook.
    pub fn webhooks(&self) -> Vec<WebhookInfo> {
        self.shared.world().webhooks.values().cloned().collect()
    }

    /// Every accepted message of `channel`, in the order accepted (deleted ones flagged).
    pub fn messages(&self, channel: u64) -> Vec<RecordedMessage> {
        let w = self.shared.world();
        w.messages
            .iter()
            .filter(|m| m.channel_id == channel)
            .cloned()
            .collect()
    }

    /// Test hook, as a person with the rights would do by hand: deletes message `id` (a
    /// MESSAGE_DELETE on the gateway); whether it was there.
    pub fn delete_message(&self, id: u64) -> bool {
        let mut w = self.shared.world();
        let Some(m) = w.live_mut(id) else {
            return false;
        };
        m.deleted = true;
        let channel = m.channel_id;
        self.shared
            .gateway
            .publish(&dispatches::message_delete(&w, channel, id));
        true
    }

    /// Test hook: replaces message `id`'s content, marking it edited now (a MESSAGE_UPDATE on
    /// the gateway); whether it was there.
    pub fn edit_message(&self, id: u64, content: &str) -> bool {
        let base = self.shared.files_base();
        let mut w = self.shared.world();
        let Some(m) = w.live_mut(id) else {
            return false;
        };
        m.content = content.to_owned();
        m.edited = Some(chrono::Utc::now());
        let m = m.clone();
        self.shared
            .gateway
            .publish(&dispatches::message_update(&w, &base, &m));
        true
    }

    /// Test hook: posts message `id` again as it was (same webhook, author and content), as
    /// a duplicated send would (a MESSAGE_CREATE on the gateway); the new message's ID.
    pub fn repost_message(&self, id: u64) -> Option<u64> {
        let base = self.shared.files_base();
        let mut w = self.shared.world();
        let mut copy = w.messages.iter().find(|m| m.id == id)?.clone();
        copy.id = w.snowflake();
        copy.reactions.clear();
        let new = copy.id;
        self.shared
            .gateway
            .publish(&dispatches::message_create(&w, &base, &copy));
        w.push(copy);
        Some(new)
    }

    /// Every accepted message, in the order accepted.
    pub fn all_messages(&self) -> Vec<RecordedMessage> {
        self.shared.world().messages.clone()
    }

    /// What was counted so far.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Injects `fault` into the next `times` requests matching `target`.
    pub fn inject(&self, fault: Fault, target: FaultTarget, times: u32) {
        self.shared
            .lock_faults()
            .scripted
            .push((fault, target, times));
    }

    /// Injects a fault into every `n`th request matching `target` from now on, taking
    /// `faults` in turn (`[Drop, DropAfterCommit]`: the 7th request dropped before handling,
    /// the 14th after, …); an empty `faults` or `n == 0` turns it off. Scripted faults
    /// ([`StandIn::inject`]) come first and are not counted.
    pub fn fault_every(&self, n: u32, target: FaultTarget, faults: &[Fault]) {
        self.shared.lock_faults().every = (n > 0 && !faults.is_empty()).then(|| faults::Every {
            n,
            target,
            faults: faults.to_vec(),
            seen: 0,
            injected: 0,
        });
    }

    /// Turns random faults on webhook executes on (`Some`) or off.
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.shared.lock_faults().chaos = chaos.map(|c| (c, c.seed.max(1)));
    }

    /// Whether the 1015 block is on.
    pub fn is_banned(&self) -> bool {
        self.shared
            .banned_until()
            .is_some_and(|t| t > Instant::now())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.gateway.drop_all();
        for t in &self.tasks {
            t.abort();
        }
    }
}
