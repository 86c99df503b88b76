//! Shared set-up: a stand-in, a store, a sink pointed at the stand-in over TLS (by the
//! `[discord]` keys `connect_to` and `ca_file`, as the binary's tests set them), the engine.

#![allow(dead_code)]

pub mod relay;

use std::{sync::Arc, time::Duration};

use adapter_discord::{
    DiscordSink, SinkOptions,
    config::{DiscordConfig, ReactionStyle, TimeFormat},
    limiter::LimiterOptions,
};
use bridge_core::{
    ChatId, ChatRef, Content, MappingStore, Message, Platform, Secret, Syntax,
    backfill::{Backfill, BackfillJob, BackfillOptions, Summary, Target},
    retry::RetryPolicy,
    testing::{FakeHistory, text_message},
};
use discord_standin::{Limits, StandIn, StandInOptions, TEXT};
use tokio_util::sync::CancellationToken;

pub struct Rig {
    pub standin: StandIn,
    pub store: MappingStore,
    pub dir: tempfile::TempDir,
}

/// The stand-in's certificate, in the rig's folder.
const CA_FILE: &str = "standin-ca.pem";

pub async fn rig(limits: Limits, max_file_size: u64) -> Rig {
    rig_with(StandInOptions {
        limits,
        max_file_size,
        ..StandInOptions::default()
    })
    .await
}

/// A rig for the gateway's tests: limits 20 times faster, a 500 ms heartbeat, and the
/// privileged intents `privileged` granted to the application.
pub async fn gateway_rig(privileged: u64) -> Rig {
    rig_with(StandInOptions {
        limits: Limits::discord().scaled(0.05),
        privileged_intents: privileged,
        heartbeat_interval: Duration::from_millis(500),
        ..StandInOptions::default()
    })
    .await
}

/// The live source's timings for tests: quick backoffs and a short wait before identifying
/// again, so reconnects take milliseconds.
pub fn source_options() -> adapter_discord::SourceOptions {
    adapter_discord::SourceOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        reidentify_delay: Duration::from_millis(300),
    }
}

/// A stand-in started with `options`, its certificate written, and an empty store.
pub async fn rig_with(options: StandInOptions) -> Rig {
    let standin = StandIn::start(options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CA_FILE), standin.ca_pem()).unwrap();
    let store = MappingStore::open(&format!("sqlite://{}/kb.db", dir.path().display()))
        .await
        .unwrap();
    Rig {
        standin,
        store,
        dir,
    }
}

impl Rig {
    pub fn config(&self) -> DiscordConfig {
        DiscordConfig {
            token: Secret::new(self.standin.token()),
            guild_id: self.standin.guild_id().to_string().parse().unwrap(),
            api_base: None,
            avatar_url: Some("https://avatars.example/{username}.png".into()),
            time_format: TimeFormat::Prefix,
            reactions: ReactionStyle::Line,
            connect_to: Some(self.standin.tls_addr()),
            ca_file: Some(self.dir.path().join(CA_FILE)),
        }
    }

    pub fn sink_with(&self, config: &DiscordConfig, limiter: LimiterOptions) -> Arc<DiscordSink> {
        let options = SinkOptions {
            limiter,
            ..SinkOptions::default()
        };
        Arc::new(DiscordSink::with_options(config, self.store.clone(), options).unwrap())
    }

    pub fn sink(&self) -> Arc<DiscordSink> {
        self.sink_with(&self.config(), LimiterOptions::default())
    }

    pub fn channel(&self, name: &str) -> u64 {
        self.standin.create_channel(name, TEXT, None)
    }
}

pub fn chat(name: &str) -> ChatRef {
    ChatRef::new(Platform::Keybase, name)
}

/// A Keybase-markup message `id` in `chat`.
pub fn kb(chat: &ChatRef, id: u64, text: &str) -> Message {
    let mut m = text_message(chat, id, text);
    m.content = Content {
        syntax: Syntax::Keybase,
        ..Content::plain(text)
    };
    m
}

pub fn engine(store: &MappingStore, parallel: usize) -> Backfill {
    Backfill::new(
        store.clone(),
        BackfillOptions {
            parallel_links: parallel,
            page_size: 50,
            retry: RetryPolicy {
                max_attempts: 30,
                min_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(500),
            },
            ..BackfillOptions::default()
        },
    )
}

/// Runs one job per (chat, messages, channel) and returns the summaries.
pub async fn backfill(
    store: &MappingStore,
    sink: Arc<DiscordSink>,
    chats: Vec<(ChatRef, Vec<Message>, u64)>,
) -> Vec<Summary> {
    let mut history = FakeHistory::new(Platform::Keybase);
    for (c, msgs, _) in &chats {
        history = history.with_chat(c.chat.clone(), msgs.clone());
    }
    let history = Arc::new(history);
    let jobs: Vec<BackfillJob> = chats
        .iter()
        .map(|(c, _, channel)| BackfillJob {
            link: c.chat.as_str().into(),
            source: history.clone(),
            from: c.clone(),
            sink: sink.clone(),
            to: Target::Named(ChatRef::new(
                Platform::Discord,
                ChatId::new(channel.to_string()),
            )),
        })
        .collect();
    let n = jobs.len();
    let outcomes = engine(store, n).run(jobs, &CancellationToken::new()).await;
    outcomes.into_iter().map(|o| o.result.unwrap()).collect()
}
