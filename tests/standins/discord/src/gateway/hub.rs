//! The gateway's shared state: its connections, its sessions, the event bus that numbers each
//! event into every session that asked for it, the events tests hold back to reorder, and the
//! controls tests pull on live sessions.
//!
//! Lock order: the world (held by whoever publishes, so events are numbered in the order the
//! world changed), then the hub.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::mpsc;

use super::{
    dispatches::Dispatch,
    intents::MESSAGE_CONTENT,
    session::{ResumeError, Session},
};

/// What a connection is told to do: send a frame, or act on a test's request.
#[derive(Debug)]
pub(crate) enum ToClient {
    /// Send this text frame.
    Frame(String),
    /// Send op 7 (reconnect and resume).
    Reconnect,
    /// Send op 9 with `d`: whether the session may be resumed.
    InvalidSession(bool),
    /// Close with this code.
    Close(u16),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// What the gateway counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// WebSocket connections accepted.
    pub connections: u64,
    /// Sessions opened by IDENTIFY.
    pub identifies: u64,
    /// RESUMEs that succeeded.
    pub resumes: u64,
    /// RESUMEs answered with op 9 (unknown session or events no longer held).
    pub resumes_refused: u64,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Events published (each counted once, whatever the number of sessions).
    pub events: u64,
    /// Close codes sent, by code.
    pub closes: BTreeMap<u16, u64>,
}

/// A session as tests see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its ID (READY's `session_id`).
    pub id: String,
    /// The intents it identified with.
    pub intents: u64,
    /// The last sequence number given.
    pub seq: u64,
    /// Whether a connection is attached.
    pub connected: bool,
}

struct Conn {
    tx: mpsc::UnboundedSender<ToClient>,
    session: Option<String>,
}

#[derive(Default)]
struct Hub {
    next_id: u64,
    conns: HashMap<u64, Conn>,
    sessions: HashMap<String, Session>,
    stats: GatewayStats,
    /// The channels a test holds the events of, each with its held events in the order they
    /// happened (numbered into no session until released).
    held: HashMap<u64, Vec<Dispatch>>,
}

impl Hub {
    /// Numbers `d` into every session whose intents cover it (content blanked for those
    /// without MESSAGE_CONTENT when it is gated) and sends it to the attached connections.
    fn deliver(&mut self, d: &Dispatch) {
        self.stats.events += 1;
        let blanked = d.gated.then(|| d.blanked());
        for s in self.sessions.values_mut() {
            if s.intents & d.intent == 0 {
                continue;
            }
            let data = match &blanked {
                Some(b) if s.intents & MESSAGE_CONTENT == 0 => b,
                _ => &d.data,
            };
            let frame = s.record(d.name, data);
            if let Some(c) = s.conn.and_then(|c| self.conns.get(&c)) {
                let _ = c.tx.send(ToClient::Frame(frame));
            }
        }
    }

    /// Sends `msg` to connection `conn`; a connection that just ended is no error.
    fn send(&self, conn: u64, msg: ToClient) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(msg);
        }
    }
}

/// The gateway: its settings and its hub.
pub(crate) struct Gateway {
    /// Where it listens (`ws://{addr}` is what `GET /gateway` answers).
    pub(crate) addr: SocketAddr,
    /// HELLO's `heartbeat_interval`.
    pub(crate) heartbeat_interval: Duration,
    /// The privileged intents the application has been granted.
    pub(crate) privileged: u64,
    acks_paused: AtomicBool,
    hub: Mutex<Hub>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub(crate) fn new(addr: SocketAddr, heartbeat_interval: Duration, privileged: u64) -> Self {
        Self {
            addr,
            heartbeat_interval,
            privileged,
            acks_paused: AtomicBool::new(false),
            hub: Mutex::new(Hub::default()),
        }
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        crate::lock(&self.hub)
    }

    /// Registers a new connection; its ID and the channel it is driven through.
    pub(crate) fn connect(&self) -> (u64, mpsc::UnboundedReceiver<ToClient>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut hub = self.hub();
        hub.next_id += 1;
        let id = hub.next_id;
        hub.conns.insert(id, Conn { tx, session: None });
        hub.stats.connections += 1;
        (id, rx)
    }

    /// Forgets connection `conn`; its session stays resumable unless `end_session` (the client
    /// closed with 1000 or 1001, which ends a session at Discord).
    pub(crate) fn disconnect(&self, conn: u64, end_session: bool) {
        let mut hub = self.hub();
        let Some(c) = hub.conns.remove(&conn) else {
            return;
        };
        if let Some(id) = c.session {
            if end_session {
                hub.sessions.remove(&id);
            } else if let Some(s) = hub.sessions.get_mut(&id) {
                if s.conn == Some(conn) {
                    s.conn = None;
                }
            }
        }
    }

    /// A fresh session ID.
    pub(crate) fn new_session_id(&self) -> String {
        let mut hub = self.hub();
        hub.next_id += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{:08x}{:08x}", hub.next_id, nanos)
    }

    /// Opens session `id` on connection `conn` and sends it `first` (READY, GUILD_CREATE),
    /// numbered 1, 2, …. Call it with the world locked, so no event falls between what
    /// `first` shows and the events the session gets next.
    pub(crate) fn open_session(
        &self,
        conn: u64,
        id: &str,
        intents: u64,
        first: &[(&str, serde_json::Value)],
    ) {
        let mut hub = self.hub();
        let mut session = Session::new(intents);
        session.conn = Some(conn);
        let frames: Vec<String> = first.iter().map(|(n, d)| session.record(n, d)).collect();
        hub.sessions.insert(id.to_owned(), session);
        if let Some(c) = hub.conns.get_mut(&conn) {
            c.session = Some(id.to_owned());
        }
        hub.stats.identifies += 1;
        for f in frames {
            hub.send(conn, ToClient::Frame(f));
        }
    }

    /// Attaches session `id` to connection `conn` and sends it the events after `seq`, then
    /// RESUMED; a connection the session was still attached to is dropped.
    pub(crate) fn resume(&self, conn: u64, id: &str, seq: u64) -> Result<(), ResumeError> {
        let mut hub = self.hub();
        let result = match hub.sessions.get_mut(id) {
            None => Err(ResumeError::Gone),
            Some(s) => s.replay_after(seq).map(|replay| {
                let resumed = s.unrecorded("RESUMED", &serde_json::json!({}));
                (replay, resumed, s.conn.replace(conn))
            }),
        };
        match result {
            Ok((replay, resumed, previous)) => {
                if let Some(old) = previous.filter(|old| *old != conn) {
                    hub.send(old, ToClient::Drop);
                }
                if let Some(c) = hub.conns.get_mut(&conn) {
                    c.session = Some(id.to_owned());
                }
                for f in replay {
                    hub.send(conn, ToClient::Frame(f));
                }
                hub.send(conn, ToClient::Frame(resumed));
                hub.stats.resumes += 1;
                Ok(())
            }
            Err(e) => {
                if e == ResumeError::Gone {
                    hub.stats.resumes_refused += 1;
                }
                Err(e)
            }
        }
    }

    /// Numbers `d` into every session whose intents cover it (content blanked for those
    /// without MESSAGE_CONTENT when it is gated) and sends it to the attached connections;
    /// held instead if a test holds its channel. Call it with the world locked (see the
    /// module's lock order).
    pub(crate) fn publish(&self, d: &Dispatch) {
        let mut hub = self.hub();
        match hub.held.get_mut(&d.channel) {
            Some(held) => held.push(d.clone()),
            None => hub.deliver(d),
        }
    }

    /// Holds `channel`'s events from now on, until [`Gateway::release`].
    pub(crate) fn hold(&self, channel: u64) {
        self.hub().held.entry(channel).or_default();
    }

    /// Stops holding `channel`'s events and publishes those held: the ones at `order`'s
    /// positions (0 = the first that happened) first, in that order, then the others in the
    /// order they happened; positions out of range or repeated are skipped. Each is numbered
    /// as it is sent, as a gateway that reordered them would. Their names, in the order sent.
    pub(crate) fn release(&self, channel: u64, order: &[usize]) -> Vec<&'static str> {
        let mut hub = self.hub();
        let mut held: Vec<Option<Dispatch>> = hub
            .held
            .remove(&channel)
            .unwrap_or_default()
            .into_iter()
            .map(Some)
            .collect();
        let mut sent: Vec<Dispatch> = order
            .iter()
            .filter_map(|&i| held.get_mut(i)?.take())
            .collect();
        sent.extend(held.into_iter().flatten());
        for d in &sent {
            hub.deliver(d);
        }
        sent.iter().map(|d| d.name).collect()
    }

    /// Sends `make()` to every connection with a session; how many. An op 9 that may not be
    /// resumed ends those sessions at once.
    pub(crate) fn control(&self, make: impl Fn() -> ToClient) -> usize {
        let mut hub = self.hub();
        let live: Vec<(u64, String)> = hub
            .conns
            .iter()
            .filter_map(|(id, c)| c.session.clone().map(|s| (*id, s)))
            .collect();
        for (conn, session) in &live {
            let msg = make();
            if matches!(msg, ToClient::InvalidSession(false)) {
                hub.sessions.remove(session);
                if let Some(c) = hub.conns.get_mut(conn) {
                    c.session = None;
                }
            }
            hub.send(*conn, msg);
        }
        live.len()
    }

    /// Drops every connection, with a session or not (the stand-in is stopping).
    pub(crate) fn drop_all(&self) {
        let hub = self.hub();
        for c in hub.conns.values() {
            let _ = c.tx.send(ToClient::Drop);
        }
    }

    /// Whether heartbeats go unanswered (a test's zombie connection).
    pub(crate) fn acks_paused(&self) -> bool {
        self.acks_paused.load(Ordering::Relaxed)
    }

    pub(crate) fn pause_acks(&self, paused: bool) {
        self.acks_paused.store(paused, Ordering::Relaxed);
    }

    /// Counts `f` into the statistics.
    pub(crate) fn count(&self, f: impl FnOnce(&mut GatewayStats)) {
        f(&mut self.hub().stats);
    }

    pub(crate) fn stats(&self) -> GatewayStats {
        self.hub().stats.clone()
    }

    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        let hub = self.hub();
        let mut out: Vec<SessionInfo> = hub
            .sessions
            .iter()
            .map(|(id, s)| SessionInfo {
                id: id.clone(),
                intents: s.intents,
                seq: s.seq(),
                connected: s.conn.is_some(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}
