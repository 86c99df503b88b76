//! What the gateway tests share: a stand-in with a short heartbeat, serenity's HTTP client
//! reaching it over TLS as `discord.com`, and a bare WebSocket client.

use std::time::Duration;

use discord_standin::{Limits, StandIn, StandInOptions, intents};
use futures::{SinkExt, StreamExt};
use reqwest::Certificate;
use serde_json::{Value, json};
use serenity::{
    http::{Http, HttpBuilder},
    model::event::{Event, GatewayEvent},
};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    WebSocketStream, client_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// How long a test waits for anything the stand-in should send.
pub const WAIT: Duration = Duration::from_secs(10);

/// HELLO's heartbeat interval in these tests.
pub const HEARTBEAT_MS: u64 = 500;

/// What kbbridge identifies with: guild messages, their reactions and their content.
pub const RELAY_INTENTS: u64 =
    intents::GUILD_MESSAGES | intents::GUILD_MESSAGE_REACTIONS | intents::MESSAGE_CONTENT;

/// A stand-in granting `privileged` intents, with fast limits and a 500 ms heartbeat.
pub async fn start(privileged: u64) -> StandIn {
    StandIn::start(StandInOptions {
        limits: Limits::discord().scaled(0.05),
        privileged_intents: privileged,
        heartbeat_interval: Duration::from_millis(HEARTBEAT_MS),
        ..StandInOptions::default()
    })
    .await
    .unwrap()
}

/// serenity's HTTP client, its reqwest client resolving `discord.com` to the stand-in and
/// trusting only its certificate (as adapter-discord's client does).
pub fn http(s: &StandIn) -> Http {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(s.ca_pem().as_bytes()).unwrap())
        .resolve("discord.com", s.tls_addr())
        .build()
        .unwrap();
    HttpBuilder::new(s.token()).client(client).build()
}

/// A bare gateway client.
pub struct Raw {
    ws: WebSocketStream<TcpStream>,
}

/// What the client got instead of a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// A close frame with this code.
    Closed(u16),
    /// The connection ended without a close frame.
    Dropped,
}

impl Raw {
    /// Connects to the URL `GET /gateway` answers (read through serenity over TLS), with
    /// `query`, and reads HELLO; the client and HELLO's `d`.
    pub async fn connect(s: &StandIn, query: &str) -> (Raw, Value) {
        let url = http(s).get_gateway().await.unwrap().url;
        assert_eq!(url, format!("ws://{}", s.gateway_addr()));
        let mut raw = Raw::connect_only(s, query).await;
        let hello = raw.recv().await;
        assert_eq!(hello["op"], 10, "{hello}");
        (raw, hello["d"].clone())
    }

    /// Connects with `query` and reads nothing.
    pub async fn connect_only(s: &StandIn, query: &str) -> Raw {
        let tcp = TcpStream::connect(s.gateway_addr()).await.unwrap();
        let url = format!("ws://{}/?{query}", s.gateway_addr());
        let (ws, _) = client_async(url, tcp).await.unwrap();
        Raw { ws }
    }

    /// Sends `payload` as a text frame.
    pub async fn send(&mut self, payload: &Value) {
        self.send_text(payload.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::Text(text)).await.unwrap();
    }

    /// The next frame or how the connection ended, within `within`; `None` if nothing came.
    pub async fn next_within(&mut self, within: Duration) -> Option<Result<Value, End>> {
        let got = tokio::time::timeout(within, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => return Ok(parse(&t)),
                    Some(Ok(Message::Close(f))) => {
                        return Err(End::Closed(
                            f.map_or(1005, |f: CloseFrame<'_>| f.code.into()),
                        ));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Err(End::Dropped),
                }
            }
        })
        .await;
        got.ok()
    }

    /// The next frame; panics on anything else.
    pub async fn recv(&mut self) -> Value {
        match self.next_within(WAIT).await {
            Some(Ok(v)) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame, which must be event `name` numbered `seq`; its `d`.
    pub async fn event(&mut self, name: &str, seq: u64) -> Value {
        let f = self.recv().await;
        assert_eq!(
            (f["op"].as_u64(), f["t"].as_str()),
            (Some(0), Some(name)),
            "{f}"
        );
        assert_eq!(f["s"], seq, "{f}");
        f["d"].clone()
    }

    /// How the connection ends; panics if a frame comes first. After a close frame it reads
    /// on, so the client's answering close goes out.
    pub async fn end(&mut self) -> End {
        match self.next_within(WAIT).await {
            Some(Err(e)) => {
                while let Some(Ok(_)) = self.ws.next().await {}
                e
            }
            other => panic!("expected the end, got {other:?}"),
        }
    }

    /// IDENTIFY with `token` and `intents`, as serenity sends it.
    pub async fn identify(&mut self, token: &str, intents: u64) {
        self.send(&json!({ "op": 2, "d": {
            "token": format!("Bot {token}"), "intents": intents, "shard": [0, 1],
            "compress": true, "large_threshold": 250,
            "properties": { "os": "linux", "browser": "serenity", "device": "serenity" },
            "presence": { "afk": false, "status": "online", "activities": [],
                "since": { "secs_since_epoch": 1, "nanos_since_epoch": 0 } },
        }}))
        .await;
    }

    /// IDENTIFY, READY (seq 1) and GUILD_CREATE (seq 2); READY's `d`.
    pub async fn open(&mut self, s: &StandIn, intents: u64) -> Value {
        self.identify(s.token(), intents).await;
        let ready = self.event("READY", 1).await;
        self.event("GUILD_CREATE", 2).await;
        ready
    }

    /// Closes the connection with `code`, as a client ending its session would.
    pub async fn close(mut self, code: u16) {
        let frame = CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        let _ = self.ws.close(Some(frame)).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

/// A frame as JSON, after checking that serenity's own model takes it. An event serenity
/// knows but cannot read becomes its `Event::Unknown` (an untagged fallback) and would be
/// lost without a word, so that is a failure too.
fn parse(text: &str) -> Value {
    match serde_json::from_str::<GatewayEvent>(text) {
        Ok(GatewayEvent::Dispatch(_, Event::Unknown(u))) => {
            panic!("serenity reads {} as an unknown event: {text}", u.kind)
        }
        Ok(_) => {}
        Err(e) => panic!("serenity cannot read {text}: {e}"),
    }
    serde_json::from_str(text).unwrap()
}

/// Polls `ready` until it holds (the stand-in notices a dropped connection on its own time).
pub async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
