//! The baseline of the Discord part: webhook executes sent straight to the Discord stand-in by
//! this benchmark, over HTTPS as kbbridge reaches it (`discord.com` resolved to the stand-in,
//! its certificate trusted, the bot token sent along as serenity does), into channels and
//! webhooks of their own (no link names them), at the rate of the relayed phase.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    discord_world::DiscordWorld,
    keybase_side::SENDERS,
    posting::{Order, Posted, Schedule},
    stamp::{now_us, tag},
};

/// A client of the stand-in with one webhook in each of its own channels.
pub struct DirectClient {
    http: reqwest::Client,
    auth: String,
    /// Each channel's webhook: (ID, token).
    hooks: Vec<(u64, String)>,
}

impl DirectClient {
    /// Makes `channels` channels of its own in `world`'s stand-in, each with a webhook made
    /// through the REST API.
    pub async fn new(world: &DiscordWorld, channels: usize) -> Self {
        let standin = &world.standin;
        let ca = reqwest::Certificate::from_pem(world.ca_pem().as_bytes())
            .expect("the stand-in's certificate");
        let http = reqwest::Client::builder()
            .resolve("discord.com", standin.tls_addr())
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .expect("an HTTPS client");
        let auth = format!("Bot {}", standin.token());
        let mut hooks = Vec::new();
        for c in 0..channels {
            let channel =
                standin.create_channel(&format!("direct-{c:02}"), discord_standin::TEXT, None);
            let made = http
                .post(format!(
                    "https://discord.com/api/v10/channels/{channel}/webhooks"
                ))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(json!({"name": "bench"}).to_string())
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("a webhook of the benchmark's own");
            let made = json_of(made).await;
            let id = made["id"].as_str().and_then(|s| s.parse().ok());
            let token = made["token"].as_str().map(str::to_owned);
            hooks.push(id.zip(token).expect("the webhook's ID and token"));
        }
        Self { http, auth, hooks }
    }

    /// Executes the phase's messages (tagged `kind`) on the webhooks, as `order` says, each
    /// stamped with the time it was due (so a wait behind the one before counts) and the time
    /// the stand-in answered.
    pub async fn send(&self, kind: char, order: Order, s: Schedule) -> Vec<Posted> {
        let (start, start_us) = (
            tokio::time::Instant::now() + Duration::from_millis(100),
            now_us() + 100_000,
        );
        let queues: Vec<Vec<usize>> = match order {
            Order::Concurrent => (0..s.count).map(|i| vec![i]).collect(),
            Order::InOrder => (0..s.channels)
                .map(|c| (c..s.count).step_by(s.channels).collect())
                .collect(),
        };
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let (http, auth) = (self.http.clone(), self.auth.clone());
                let hooks = self.hooks.clone();
                tokio::spawn(async move {
                    let mut posted = Vec::new();
                    for i in queue {
                        let offset = Duration::from_secs_f64(i as f64 / s.rate);
                        tokio::time::sleep_until(start + offset).await;
                        let lag =
                            tokio::time::Instant::now().saturating_duration_since(start + offset);
                        let n = s.first + i;
                        let tag = tag(kind, n);
                        let sender = SENDERS[(n / s.channels) % SENDERS.len()];
                        let channel = i % s.channels;
                        let (id, token) = &hooks[channel];
                        let body = json!({
                            "content": format!("benchmark message {tag} from {sender}"),
                            "username": sender,
                        });
                        let at = start_us + u64::try_from(offset.as_micros()).unwrap_or(u64::MAX);
                        let sent = http
                            .post(format!(
                                "https://discord.com/api/v10/webhooks/{id}/{token}?wait=true"
                            ))
                            .header("authorization", &auth)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                            .await
                            .and_then(reqwest::Response::error_for_status);
                        let acked = sent.is_ok().then(now_us);
                        if let Err(e) = sent {
                            // The URL holds the webhook's token: left out.
                            let e = e.without_url();
                            eprintln!("relay bench: direct webhook execute failed: {e}");
                        }
                        posted.push(Posted {
                            tag,
                            at,
                            acked,
                            lag,
                            channel,
                            id: None,
                            txn: None,
                        });
                    }
                    posted
                })
            })
            .collect();
        let mut posted = Vec::new();
        for task in tasks {
            posted.extend(task.await.unwrap_or_default());
        }
        posted
    }
}

/// A response's body as JSON (`Null` when it is not).
async fn json_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
