//! The stand-in itself: Discord's limits, errors and headers, reached over TLS as
//! `discord.com`, and serenity's own builders and rate limiter working against it.

use std::time::Duration;

use discord_standin::{Fault, FaultTarget, Limits, StandIn, StandInOptions, TEXT};
use reqwest::{Certificate, Client, StatusCode};
use serde_json::{Value, json};
use serenity::{
    builder::{CreateAllowedMentions, CreateAttachment, CreateWebhook, ExecuteWebhook},
    http::HttpBuilder,
    model::id::ChannelId,
};

fn client(s: &StandIn) -> Client {
    Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(s.ca_pem().as_bytes()).unwrap())
        .resolve("discord.com", s.tls_addr())
        .build()
        .unwrap()
}

async fn start(limits: Limits) -> StandIn {
    StandIn::start(StandInOptions {
        limits,
        max_file_size: 1000,
        ..StandInOptions::default()
    })
    .await
    .unwrap()
}

fn api(path: &str) -> String {
    format!("https://discord.com/api/v10{path}")
}

#[tokio::test]
async fn serenity_runs_unchanged_against_the_standin() {
    let s = start(Limits::discord()).await;
    let channel = s.create_channel("general", TEXT, None);
    let http = HttpBuilder::new(s.token()).client(client(&s)).build();
    let me = http.get_current_user().await.unwrap();
    assert_eq!(me.id.get(), s.bot_id());
    let hook = ChannelId::new(channel)
        .create_webhook(&http, CreateWebhook::new("kbbridge"))
        .await
        .unwrap();
    let builder = ExecuteWebhook::new()
        .content("hello @everyone")
        .username("alice")
        .allowed_mentions(CreateAllowedMentions::new())
        .add_file(CreateAttachment::bytes(b"abc".to_vec(), "a.txt"));
    let msg = hook.execute(&http, true, builder).await.unwrap().unwrap();
    assert_eq!(msg.author.name, "alice");
    assert_eq!(msg.attachments[0].filename, "a.txt");
    let recorded = s.messages(channel);
    assert_eq!(recorded[0].files[0].bytes, b"abc");
    assert!(recorded[0].pinged.is_empty());
    assert_eq!(
        recorded[0].allowed_mentions,
        Some(json!({"parse": [], "users": [], "roles": []}))
    );
}

#[tokio::test]
async fn serenitys_limiter_honours_the_standins_429s() {
    let s = start(Limits::discord().scaled(0.1)).await;
    let channel = s.create_channel("general", TEXT, None);
    s.inject(
        Fault::RateLimit {
            global: false,
            header: true,
            retry_after: Duration::from_millis(300),
        },
        FaultTarget::Any,
        1,
    );
    let http = HttpBuilder::new(s.token()).client(client(&s)).build();
    let start = std::time::Instant::now();
    let c = http.get_channel(ChannelId::new(channel)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.guild().unwrap().name, "general");
    assert_eq!(s.stats().injected_429, 1);
}

#[tokio::test]
async fn limits_and_errors_look_like_discords() {
    let s = start(Limits::discord()).await;
    let c = client(&s);
    let auth = format!("Bot {}", s.token());
    let channel = s.create_channel("general", TEXT, None);

    // No token → 401 with a JSON code.
    let r = c
        .get(api(&format!("/channels/{channel}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 0);

    // Rate-limit headers on every answer.
    let r = c
        .get(api(&format!("/channels/{channel}")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-ratelimit-limit"], "10");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "9");
    assert!(r.headers().contains_key("x-ratelimit-reset-after"));

    // At most 15 webhooks per channel.
    for i in 0..15 {
        let r = c
            .post(api(&format!("/channels/{channel}/webhooks")))
            .header("authorization", &auth)
            .json(&json!({"name": format!("h{i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let after: f64 = r.json::<Value>().await.unwrap()["retry_after"]
                .as_f64()
                .unwrap();
            tokio::time::sleep(Duration::from_secs_f64(after)).await;
            continue;
        }
        assert!(r.status().is_success());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = c
        .post(api(&format!("/channels/{channel}/webhooks")))
        .header("authorization", &auth)
        .json(&json!({"name": "one-too-many"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["code"] == 30007 || s.webhooks().len() < 15, "{body}");

    // Webhook names and usernames: no "discord", "clyde"; content up to 2,000 characters.
    let hook = s.webhooks()[0].clone();
    let exec = |body: Value| {
        c.post(api(&format!(
            "/webhooks/{}/{}?&wait=true",
            hook.id, hook.token
        )))
        .json(&body)
        .send()
    };
    let r = exec(json!({"content": "x", "username": "Discord fan"}))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 50035);
    let r = exec(json!({"content": "é".repeat(2001)})).await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 50035);
    assert!(
        body["errors"]["content"]["_errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2000")
    );
    let r = exec(json!({"content": "é".repeat(2000)})).await.unwrap();
    assert!(r.status().is_success());
}

#[tokio::test]
async fn too_many_invalid_requests_get_the_1015_block() {
    let mut limits = Limits::discord().scaled(0.01);
    limits.invalid_budget = 20;
    let s = start(limits).await;
    let c = client(&s);
    for _ in 0..20 {
        c.get(api("/users/@me"))
            .header("authorization", "Bot wrong")
            .send()
            .await
            .unwrap();
    }
    let r = c
        .get(api("/users/@me"))
        .header("authorization", format!("Bot {}", s.token()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("error code: 1015"));
    assert!(s.is_banned());
}

#[tokio::test]
async fn overflowing_a_bucket_gets_a_429_with_discords_body() {
    let s = start(Limits::discord()).await;
    let c = client(&s);
    let auth = format!("Bot {}", s.token());
    let mut limited = None;
    for _ in 0..12 {
        let r = c
            .get(api("/users/@me"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["x-ratelimit-scope"], "user");
            assert!(r.headers().contains_key("retry-after"));
            limited = Some(r.json::<Value>().await.unwrap());
            break;
        }
    }
    let body = limited.expect("a 429 within 12 requests of a 10/s bucket");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(s.stats().route_429, 1);
}
