//! The gateway connection: kbbridge's own small runner of Discord's protocol (HELLO,
//! IDENTIFY or RESUME, heartbeats, op 7, op 9, close codes), over tokio-tungstenite 0.21 (the
//! copy serenity already builds), every payload parsed by serenity's models.
//!
//! Why not serenity's `Client`: it spawns a task per event (`client/dispatch.rs`), so two events
//! of one channel can reach kbbridge in either order. Why not serenity's `Shard` alone: it can
//! send but not receive outside serenity (`WsClient::recv_json` is crate-private, and only built
//! with the `client` feature). This loop reads one frame at a time and hands dispatches on in
//! exactly the gateway's order.

use std::{
    hash::BuildHasher,
    time::{Duration, Instant},
};

use bridge_core::AdapterError;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use serenity::{
    http::{LightMethod, Request, Route},
    model::event::{Event, GatewayEvent},
};
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::{
    Message as Frame,
    protocol::{CloseFrame, frame::coding::CloseCode},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{
    SourceOptions,
    protocol::{self, AfterClose},
};
use crate::client::Rest;

/// What the connection hands to the delivery side, in gateway order, each with its sequence
/// number (the delivery side tracks which of them the relay has applied).
#[derive(Debug)]
pub(crate) enum Feed {
    /// READY: a new session began (events may have been missed since the last one).
    Ready {
        /// The sequence number.
        seq: u64,
        /// The bot user.
        bot: u64,
        /// The session's ID.
        session: String,
        /// Where to resume it.
        url: String,
    },
    /// RESUMED: the session goes on, every event since the sequence number resumed from
    /// replayed before it.
    Resumed {
        /// The sequence number.
        seq: u64,
    },
    /// Any other dispatch.
    Event {
        /// The sequence number.
        seq: u64,
        /// The event.
        event: Box<Event>,
    },
    /// A dispatch kbbridge cannot read (logged): nothing to deliver.
    Skipped {
        /// The sequence number.
        seq: u64,
    },
}

/// A session that can be resumed.
pub(crate) struct Session {
    pub(crate) id: String,
    /// The last sequence number received (a restart resumes from the last one applied).
    pub(crate) seq: u64,
    pub(crate) resume_url: String,
}

/// How one connection ended.
enum Ended {
    Shutdown,
    Fatal(String),
    /// Reconnect at once and resume (op 7, op 9 `true`).
    Resume,
    /// The session is gone: wait `SourceOptions::reidentify_delay`, then identify.
    Reidentify,
    /// Lost (no connection, dropped, zombie, a resumable close): back off, then resume.
    /// `healthy`: it had been READY or RESUMED, so the backoff starts over.
    Lost {
        healthy: bool,
    },
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs connections until `shutdown`, resuming or identifying again as Discord says; READY and
/// the dispatches go to `feed`. `saved`, a session of an earlier run, is resumed first (op 9
/// `false` or a close refusing it: identify anew). Returns `Err(Fatal)` for a close code
/// nothing can fix but the operator (4004, 4010–4014) or when `GET /gateway` fails for good.
pub(crate) async fn run(
    rest: &Rest,
    options: &SourceOptions,
    feed: UnboundedSender<Feed>,
    shutdown: &CancellationToken,
    saved: Option<Session>,
) -> Result<(), AdapterError> {
    let token = protocol::bare_token(rest.token()).to_owned();
    let mut session = saved;
    let mut url: Option<String> = None;
    // The last connection to the session's resume address failed: resume through the
    // address `GET /gateway` gives (an address saved by an earlier run may be stale).
    let mut resume_url_failed = false;
    let mut backoff = backoff(options);
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let base = match (&session, &url) {
            (Some(s), _) if !resume_url_failed => s.resume_url.clone(),
            (_, Some(u)) => u.clone(),
            (_, None) => match gateway_url(rest).await {
                Ok(u) => {
                    url = Some(u.clone());
                    u
                }
                Err(e) if e.is_retryable() => {
                    warn!(error = %e, "cannot ask Discord for the gateway address; retrying");
                    pause(backoff.next(), shutdown).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let conn = Connection {
            token: &token,
            feed: &feed,
            shutdown,
        };
        let via_resume_url = session.as_ref().is_some_and(|s| s.resume_url == base);
        match conn.run(&base, &mut session).await {
            Ended::Shutdown => return Ok(()),
            Ended::Fatal(why) => return Err(AdapterError::fatal(why)),
            Ended::Resume => backoff = self::backoff(options),
            Ended::Reidentify => {
                session = None;
                resume_url_failed = false;
                pause(Some(options.reidentify_delay), shutdown).await;
            }
            Ended::Lost { healthy } => {
                if healthy {
                    backoff = self::backoff(options);
                    resume_url_failed = false;
                } else {
                    // Maybe the address itself is stale: ask again before the next try, and
                    // try the other address next time.
                    url = None;
                    resume_url_failed = via_resume_url;
                }
                pause(backoff.next(), shutdown).await;
            }
        }
    }
}

fn backoff(options: &SourceOptions) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(options.min_backoff)
        .with_max_delay(options.max_backoff)
        .with_jitter()
        .without_max_times()
        .build()
}

async fn pause(delay: Option<Duration>, shutdown: &CancellationToken) {
    let delay = delay.unwrap_or(Duration::from_secs(1));
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(delay) => {}
    }
}

/// `GET /gateway`'s `url`.
async fn gateway_url(rest: &Rest) -> Result<String, AdapterError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        url: String,
    }
    let answer: Answer = rest
        .json(
            "get gateway",
            Request::new(Route::Gateway, LightMethod::Get),
        )
        .await?;
    Ok(answer.url)
}

/// A fraction in [0, 1) for heartbeat jitter, from the standard library's random hasher keys
/// (no random-number crate needed for this one use).
fn jitter() -> f64 {
    let r = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (r >> 11) as f64 / (1u64 << 53) as f64
}

struct Connection<'a> {
    token: &'a str,
    feed: &'a UnboundedSender<Feed>,
    shutdown: &'a CancellationToken,
}

impl Connection<'_> {
    async fn run(&self, base: &str, session: &mut Option<Session>) -> Ended {
        let target = format!("{}/?v=10&encoding=json", base.trim_end_matches('/'));
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(&target)).await;
        let ws = match connected {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot connect to Discord's gateway");
                return Ended::Lost { healthy: false };
            }
            Err(_) => {
                warn!("connecting to Discord's gateway timed out");
                return Ended::Lost { healthy: false };
            }
        };
        let (mut tx, mut rx) = ws.split();
        let mut healthy = false;
        let mut interval = None;
        let mut acked = true;
        let mut next_beat = tokio::time::Instant::now() + Duration::from_secs(3600);
        loop {
            let frame = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    // Not 1000 (which ends the session at Discord): the next start resumes
                    // the session and Discord replays what happened meanwhile.
                    close(&mut tx, 4000).await;
                    return Ended::Shutdown;
                }
                () = tokio::time::sleep_until(next_beat) => {
                    if !acked {
                        warn!("Discord did not acknowledge the last heartbeat; reconnecting");
                        close(&mut tx, 4000).await;
                        return Ended::Lost { healthy };
                    }
                    let seq = session.as_ref().map(|s| s.seq);
                    if tx.send(Frame::Text(protocol::heartbeat(seq))).await.is_err() {
                        return Ended::Lost { healthy };
                    }
                    acked = false;
                    next_beat += interval.unwrap_or(Duration::from_secs(41));
                    continue;
                }
                frame = rx.next() => frame,
            };
            let text = match frame {
                None => return Ended::Lost { healthy },
                Some(Err(e)) => {
                    debug!(error = %e, "gateway connection lost");
                    return Ended::Lost { healthy };
                }
                Some(Ok(Frame::Text(t))) => t,
                Some(Ok(Frame::Close(frame))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    return match protocol::after_close(code) {
                        AfterClose::Fatal(why) => Ended::Fatal(why),
                        AfterClose::Reidentify => {
                            info!(code, "Discord ended the gateway session; identifying again");
                            Ended::Reidentify
                        }
                        AfterClose::Resume => {
                            info!(code, "Discord closed the gateway connection; resuming");
                            Ended::Lost { healthy }
                        }
                    };
                }
                Some(Ok(Frame::Binary(_))) => {
                    // kbbridge asks for no compression, so Discord sends text only.
                    warn!("unexpected binary gateway frame; reconnecting");
                    close(&mut tx, 4000).await;
                    return Ended::Lost { healthy };
                }
                Some(Ok(_)) => continue,
            };
            let value: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    warn!(error = %e, "unreadable gateway frame; reconnecting");
                    close(&mut tx, 4000).await;
                    return Ended::Lost { healthy };
                }
            };
            let (op, seq, name) = protocol::header(&value);
            match op {
                Some(0) => {
                    if let (Some(s), Some(seq)) = (session.as_mut(), seq) {
                        s.seq = seq;
                    }
                    let name = name.unwrap_or("?").to_owned();
                    let mut item = seq.map(|seq| Feed::Skipped { seq });
                    match serde_json::from_value::<GatewayEvent>(value) {
                        Ok(GatewayEvent::Dispatch(seq, event)) => {
                            if let Event::Ready(r) = &event {
                                info!(session = %r.ready.session_id, "gateway session ready");
                                *session = Some(Session {
                                    id: r.ready.session_id.clone(),
                                    seq,
                                    resume_url: r.ready.resume_gateway_url.clone(),
                                });
                            }
                            item = Some(match event {
                                Event::Ready(r) => Feed::Ready {
                                    seq,
                                    bot: r.ready.user.id.get(),
                                    session: r.ready.session_id,
                                    url: r.ready.resume_gateway_url,
                                },
                                Event::Resumed(_) => {
                                    info!("gateway session resumed");
                                    Feed::Resumed { seq }
                                }
                                other => Feed::Event {
                                    seq,
                                    event: Box::new(other),
                                },
                            });
                            healthy = true;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            warn!(event = %name, error = %e, "a gateway event serenity cannot read; skipped");
                        }
                    }
                    if let Some(item) = item
                        && self.feed.send(item).is_err()
                    {
                        close(&mut tx, 4000).await;
                        return Ended::Shutdown;
                    }
                }
                Some(1) => {
                    let seq = session.as_ref().map(|s| s.seq);
                    if tx
                        .send(Frame::Text(protocol::heartbeat(seq)))
                        .await
                        .is_err()
                    {
                        return Ended::Lost { healthy };
                    }
                }
                Some(7) => {
                    info!("Discord asked for a reconnect (op 7); resuming");
                    close(&mut tx, 4000).await;
                    return Ended::Resume;
                }
                Some(9) => {
                    let resumable = value.get("d").and_then(Value::as_bool).unwrap_or(false);
                    close(&mut tx, 4000).await;
                    if resumable {
                        info!("invalid session (op 9), resumable; resuming");
                        return Ended::Resume;
                    }
                    info!("invalid session (op 9); identifying again");
                    return Ended::Reidentify;
                }
                Some(10) => {
                    let Some(ms) = value
                        .get("d")
                        .and_then(|d| d.get("heartbeat_interval"))
                        .and_then(Value::as_u64)
                    else {
                        warn!("HELLO without a heartbeat interval; reconnecting");
                        close(&mut tx, 4000).await;
                        return Ended::Lost { healthy };
                    };
                    if interval.is_some() {
                        continue;
                    }
                    let every = Duration::from_millis(ms.max(1));
                    interval = Some(every);
                    // Discord asks for a random wait before the first heartbeat.
                    next_beat = tokio::time::Instant::now() + every.mul_f64(jitter());
                    let hello = match session.as_ref() {
                        Some(s) => protocol::resume(self.token, &s.id, s.seq),
                        None => protocol::identify(self.token),
                    };
                    if tx.send(Frame::Text(hello)).await.is_err() {
                        return Ended::Lost { healthy };
                    }
                }
                Some(11) => acked = true,
                other => debug!(op = ?other, "gateway opcode ignored"),
            }
        }
    }
}

/// Closes with `code`, ignoring a connection already gone.
async fn close<S>(tx: &mut S, code: u16)
where
    S: futures::Sink<Frame> + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let _ = tx.send(Frame::Close(Some(frame))).await;
}
