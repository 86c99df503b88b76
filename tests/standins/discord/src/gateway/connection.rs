//! One gateway connection: the WebSocket handshake (the URL's query checked), HELLO, then
//! the client's payloads (heartbeats, IDENTIFY, RESUME, the ops it may send and ignore) and
//! what the hub sends it (events, and the tests' op 7, op 9, closes and drops), one at a time.

use std::{sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    WebSocketStream, accept_hdr_async,
    tungstenite::{
        self, Message,
        handshake::server::{ErrorResponse, Request, Response},
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

use super::{
    dispatches,
    frames::{self, close},
    hub::ToClient,
    identify::{self, Identify, Refusal, Resume},
    intents::application_flags,
    session::ResumeError,
};
use crate::Shared;

/// How long a closing connection waits for the client's answering close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A client payload: its opcode and data.
#[derive(Deserialize)]
struct ClientPayload {
    op: u64,
    #[serde(default)]
    d: Value,
}

/// What to do after one input.
enum Step {
    /// Nothing more.
    Go,
    /// Send this frame.
    Reply(String),
    /// Close with this code and reason.
    Close(Refusal),
    /// Stop at once (the client closed or went away, or a test dropped the connection); end
    /// the session if the client closed with 1000 or 1001.
    End { end_session: bool },
}

/// What woke the connection up.
enum Input {
    Client(Option<Result<Message, tungstenite::Error>>),
    Hub(Option<ToClient>),
}

/// Serves one TCP connection to its end.
pub(crate) async fn run(tcp: TcpStream, shared: Arc<Shared>) {
    let mut query = String::new();
    // The callback's type is tungstenite's, large error variant included.
    #[allow(clippy::result_large_err)]
    let read_query = |req: &Request, resp: Response| {
        req.uri().query().unwrap_or_default().clone_into(&mut query);
        Ok::<_, ErrorResponse>(resp)
    };
    let handshake = accept_hdr_async(tcp, read_query).await;
    let Ok(ws) = handshake else {
        return;
    };
    let (id, rx) = shared.gateway.connect();
    let mut conn = Connection {
        ws,
        shared: shared.clone(),
        id,
        rx,
        identified: false,
    };
    let end_session = conn.serve(&query).await;
    shared.gateway.disconnect(id, end_session);
}

struct Connection {
    ws: WebSocketStream<TcpStream>,
    shared: Arc<Shared>,
    id: u64,
    rx: mpsc::UnboundedReceiver<ToClient>,
    /// Whether a session is attached (after IDENTIFY or RESUME, until an op 9).
    identified: bool,
}

impl Connection {
    /// Runs the connection; whether its session ends with it.
    async fn serve(&mut self, query: &str) -> bool {
        if let Err(refusal) = identify::check_query(query) {
            self.close(refusal).await;
            return false;
        }
        let interval = self.shared.gateway.heartbeat_interval.as_millis();
        let hello = frames::hello(u64::try_from(interval).unwrap_or(u64::MAX));
        if self.ws.send(Message::Text(hello)).await.is_err() {
            return false;
        }
        loop {
            let input = tokio::select! {
                m = self.ws.next() => Input::Client(m),
                c = self.rx.recv() => Input::Hub(c),
            };
            let step = match input {
                Input::Client(Some(Ok(m))) => self.on_message(m),
                Input::Client(_) | Input::Hub(None) => Step::End { end_session: false },
                Input::Hub(Some(c)) => self.on_hub(c),
            };
            match step {
                Step::Go => {}
                Step::Reply(frame) => {
                    if self.ws.send(Message::Text(frame)).await.is_err() {
                        return false;
                    }
                }
                Step::Close(refusal) => {
                    self.close(refusal).await;
                    return false;
                }
                Step::End { end_session } => return end_session,
            }
        }
    }

    fn on_message(&mut self, m: Message) -> Step {
        match m {
            Message::Text(text) if text.len() > frames::MAX_CLIENT_PAYLOAD => {
                Step::Close(close::DECODE_ERROR)
            }
            Message::Text(text) => match serde_json::from_str::<ClientPayload>(&text) {
                Ok(p) => self.on_payload(p),
                Err(_) => Step::Close(close::DECODE_ERROR),
            },
            // Binary payloads are ETF, which the stand-in does not speak.
            Message::Binary(_) => Step::Close(close::DECODE_ERROR),
            Message::Close(frame) => Step::End {
                end_session: frame.is_some_and(|f| matches!(u16::from(f.code), 1000 | 1001)),
            },
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Step::Go,
        }
    }

    fn on_payload(&mut self, p: ClientPayload) -> Step {
        use frames::{
            HEARTBEAT, HEARTBEAT_ACK, IDENTIFY, PRESENCE_UPDATE, REQUEST_CHANNEL_INFO,
            REQUEST_GUILD_MEMBERS, REQUEST_SOUNDBOARD_SOUNDS, RESUME, VOICE_STATE_UPDATE,
        };
        match p.op {
            HEARTBEAT => {
                let gw = &self.shared.gateway;
                gw.count(|s| s.heartbeats += 1);
                if gw.acks_paused() {
                    Step::Go
                } else {
                    Step::Reply(frames::op(HEARTBEAT_ACK, Value::Null))
                }
            }
            IDENTIFY => self.identify(p.d),
            RESUME => self.resume(p.d),
            // Accepted and ignored: the stand-in has no presences, voice or member lists.
            PRESENCE_UPDATE
            | VOICE_STATE_UPDATE
            | REQUEST_GUILD_MEMBERS
            | REQUEST_SOUNDBOARD_SOUNDS
            | REQUEST_CHANNEL_INFO => {
                if self.identified {
                    Step::Go
                } else {
                    Step::Close(close::NOT_AUTHENTICATED)
                }
            }
            _ => Step::Close(close::UNKNOWN_OPCODE),
        }
    }

    /// IDENTIFY: the checks, then a new session whose first events are READY and
    /// GUILD_CREATE.
    fn identify(&mut self, d: Value) -> Step {
        if self.identified {
            return Step::Close(close::ALREADY_AUTHENTICATED);
        }
        let Ok(identify) = serde_json::from_value::<Identify>(d) else {
            return Step::Close(close::DECODE_ERROR);
        };
        let gw = &self.shared.gateway;
        if let Err(refusal) = identify.check(&self.shared.token, gw.privileged) {
            return Step::Close(refusal);
        }
        let session_id = gw.new_session_id();
        let resume_url = format!("ws://{}", gw.addr);
        // The world stays locked until the session is open: an event published meanwhile
        // would be in neither GUILD_CREATE nor the session.
        let w = self.shared.world();
        let ready = dispatches::ready(
            &w,
            &session_id,
            &resume_url,
            identify.shard,
            application_flags(gw.privileged),
        );
        let guild = dispatches::guild_create(&w);
        gw.open_session(
            self.id,
            &session_id,
            identify.intents,
            &[("READY", ready), ("GUILD_CREATE", guild)],
        );
        drop(w);
        self.identified = true;
        Step::Go
    }

    /// RESUME: the missed events and RESUMED, an op 9 if the session is gone, or close 4007.
    fn resume(&mut self, d: Value) -> Step {
        if self.identified {
            return Step::Close(close::ALREADY_AUTHENTICATED);
        }
        let Ok(resume) = serde_json::from_value::<Resume>(d) else {
            return Step::Close(close::DECODE_ERROR);
        };
        if let Err(refusal) = resume.check(&self.shared.token) {
            return Step::Close(refusal);
        }
        match self
            .shared
            .gateway
            .resume(self.id, &resume.session_id, resume.seq)
        {
            Ok(()) => {
                self.identified = true;
                Step::Go
            }
            Err(ResumeError::Gone) => {
                Step::Reply(frames::op(frames::INVALID_SESSION, Value::Bool(false)))
            }
            Err(ResumeError::AheadOfSession) => Step::Close(close::INVALID_SEQ),
        }
    }

    fn on_hub(&mut self, c: ToClient) -> Step {
        match c {
            ToClient::Frame(f) => Step::Reply(f),
            ToClient::Reconnect => Step::Reply(frames::op(frames::RECONNECT, Value::Null)),
            ToClient::InvalidSession(resumable) => {
                if !resumable {
                    self.identified = false;
                }
                Step::Reply(frames::op(frames::INVALID_SESSION, Value::Bool(resumable)))
            }
            ToClient::Close(code) => Step::Close((code, "Closed by a test.")),
            ToClient::Drop => Step::End { end_session: false },
        }
    }

    /// Sends a close frame, then reads until the client answers (or a second passes), so what
    /// it sent last cannot turn the close into a reset.
    async fn close(&mut self, (code, reason): Refusal) {
        self.shared
            .gateway
            .count(|s| *s.closes.entry(code).or_default() += 1);
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        if self.ws.close(Some(frame)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
