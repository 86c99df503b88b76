//! Backfill throughput against the Discord stand-in with its documented limits
//! (tests/standins/discord/STANDIN.md):
//! 2,000 messages into 1 channel, then into 8 channels, through the real engine, store
//! (SQLite), sink, serenity and TLS. Prints the achieved rate against the allowed rate and the
//! 429s seen.
//!
//! `cargo bench -p adapter-discord --bench backfill`. Knobs: `KBBRIDGE_BENCH_MESSAGES` (default
//! 2000), `KBBRIDGE_BENCH_SCALE` (time scale of every limit window, default 0.25: webhook
//! executes 5 per 500 ms instead of 5 per 2 s; 1 = Discord's own figures),
//! `KBBRIDGE_BENCH_CHANNELS` (1 or 8: run only that case).

use std::{sync::Arc, time::Instant};

use adapter_discord::{
    DiscordSink, SinkOptions,
    config::{DiscordConfig, ReactionStyle, TimeFormat},
    limiter::LimiterOptions,
};
use bridge_core::{
    ChatId, ChatRef, MappingStore, Platform, Secret,
    backfill::{Backfill, BackfillJob, BackfillOptions, Target},
    testing::{FakeHistory, text_message},
};
use discord_standin::{Limits, StandIn, StandInOptions, TEXT};
use tokio_util::sync::CancellationToken;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(channels: usize, total: usize, scale: f64) {
    let limits = Limits::discord().scaled(scale);
    let standin = StandIn::start(StandInOptions {
        limits: limits.clone(),
        ..StandInOptions::default()
    })
    .await
    .expect("stand-in");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = MappingStore::open(&format!("sqlite://{}/bench.db", dir.path().display()))
        .await
        .expect("store");
    let config = DiscordConfig {
        token: Secret::new(standin.token()),
        guild_id: standin.guild_id().to_string().parse().expect("guild id"),
        api_base: None,
        avatar_url: None,
        time_format: TimeFormat::Prefix,
        reactions: ReactionStyle::Line,
        // The stand-in, reached over TLS as discord.com.
        connect_to: Some(standin.tls_addr()),
        ca_file: Some(dir.path().join("standin-ca.pem")),
    };
    std::fs::write(dir.path().join("standin-ca.pem"), standin.ca_pem()).expect("write the CA");
    // Our limiter is told the stand-in's (scaled) global limit, as an operator would set it.
    let limiter = LimiterOptions {
        global_limit: limits.global.limit,
        global_window: limits.global.window,
        ..LimiterOptions::default()
    };
    let options = SinkOptions {
        limiter,
        ..SinkOptions::default()
    };
    let sink = Arc::new(DiscordSink::with_options(&config, store.clone(), options).expect("sink"));
    let mut history = FakeHistory::new(Platform::Keybase);
    let mut jobs = Vec::new();
    for c in 0..channels {
        let chat = ChatRef::new(Platform::Keybase, format!("acme#bench{c}"));
        let n = total / channels;
        let msgs = (1..=n as u64)
            .map(|i| text_message(&chat, i, &format!("message {i}")))
            .collect();
        history = history.with_chat(chat.chat.clone(), msgs);
        let channel = standin.create_channel(&format!("bench{c}"), TEXT, None);
        jobs.push((chat, channel));
    }
    let history = Arc::new(history);
    let jobs: Vec<BackfillJob> = jobs
        .into_iter()
        .map(|(chat, channel)| BackfillJob {
            link: chat.chat.as_str().into(),
            source: history.clone(),
            from: chat,
            sink: sink.clone(),
            to: Target::Named(ChatRef::new(
                Platform::Discord,
                ChatId::new(channel.to_string()),
            )),
        })
        .collect();
    let engine = Backfill::new(
        store.clone(),
        BackfillOptions {
            parallel_links: channels,
            ..BackfillOptions::default()
        },
    );
    let start = Instant::now();
    let outcomes = engine.run(jobs, &CancellationToken::new()).await;
    let elapsed = start.elapsed().as_secs_f64();
    let copied: u64 = outcomes
        .iter()
        .map(|o| o.result.as_ref().map_or(0, |s| s.copied))
        .sum();
    let stats = standin.stats();
    let per_webhook = limits.webhook_execute.per_second();
    let allowed = (per_webhook * channels as f64).min(limits.global.per_second());
    let achieved = copied as f64 / elapsed;
    println!(
        "{channels} channel(s): {copied} messages in {elapsed:.1} s = {achieved:.2} msg/s; \
         allowed {allowed:.2} msg/s (webhook {}/{:?} each, global {}/{:?}); ratio {:.3}; \
         429s: {} in all, {} after the first response of their bucket, {} global",
        limits.webhook_execute.limit,
        limits.webhook_execute.window,
        limits.global.limit,
        limits.global.window,
        achieved / allowed,
        stats.route_429 + stats.global_429,
        stats.late_429,
        stats.global_429,
    );
}

#[tokio::main]
async fn main() {
    let total: usize = env("KBBRIDGE_BENCH_MESSAGES", 2000);
    let scale: f64 = env("KBBRIDGE_BENCH_SCALE", 0.25);
    println!("stand-in limits scaled by {scale} (1 = Discord's figures)");
    let only: Option<usize> = std::env::var("KBBRIDGE_BENCH_CHANNELS")
        .ok()
        .and_then(|v| v.parse().ok());
    for channels in [1, 8] {
        if only.is_none_or(|o| o == channels) {
            run(channels, total, scale).await;
        }
    }
}
