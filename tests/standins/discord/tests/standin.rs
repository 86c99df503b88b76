//! The stand-in itself: Discord's limits, errors and headers, reached over TLS as
//! `discord.com`, and serenity's own builders and rate limiter working against it.

use std::time::Duration;

use discord_standin::{BucketLimit, Fault, FaultTarget, Limits, StandIn, StandInOptions, TEXT};
use reqwest::{Certificate, Client, StatusCode};
use serde_json::{Value, json};
use serenity::{
    builder::{CreateAllowedMentions, CreateAttachment, CreateWebhook, ExecuteWebhook},
    http::HttpBuilder,
    model::{
        channel::ReactionType,
        id::{ChannelId, EmojiId, MessageId},
    },
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

#[tokio::test]
async fn who_reacted_is_listed_by_id_under_a_per_channel_bucket() {
    // Eight reads of who reacted per channel for the whole test: the ninth is refused.
    let s = start(Limits {
        reaction_read: BucketLimit {
            limit: 8,
            window: Duration::from_secs(3600),
        },
        ..Limits::discord()
    })
    .await;
    let channel = s.create_channel("general", TEXT, None);
    let other = s.create_channel("other", TEXT, None);
    let (ann, bob, cat) = (s.add_human("ann"), s.add_human("bob"), s.add_human("cat"));
    let m = s.post_as(&ann, channel, "react to me").unwrap();
    let elsewhere = s.post_as(&ann, other, "here too").unwrap();
    for h in [&cat, &ann, &bob] {
        assert!(s.react_as(h, m, "👍"));
    }
    assert!(s.react_as(&bob, m, "party:55"));
    let crowd: Vec<_> = (0..26).map(|i| s.add_human(&format!("p{i}"))).collect();
    for h in crowd.iter().rev() {
        assert!(s.react_as(h, m, "🎉"));
    }
    let http = HttpBuilder::new(s.token()).client(client(&s)).build();
    let (c_id, m_id) = (ChannelId::new(channel), MessageId::new(m));
    let thumbs = ReactionType::Unicode("👍".into());
    http.create_reaction(c_id, m_id, &thumbs).await.unwrap();

    // Through serenity: sorted by ID (the bot was made first), `after` exclusive, custom
    // emoji as `name:id`.
    let ids = |users: Vec<serenity::model::user::User>| -> Vec<u64> {
        users.iter().map(|u| u.id.get()).collect()
    };
    let all = http
        .get_reaction_users(c_id, m_id, &thumbs, 100, None)
        .await
        .unwrap();
    assert_eq!(all[1].name, "ann");
    assert_eq!(ids(all), [s.bot_id(), ann.id, bob.id, cat.id]);
    let one = http
        .get_reaction_users(c_id, m_id, &thumbs, 1, Some(ann.id - 1))
        .await
        .unwrap();
    assert_eq!(ids(one), [ann.id]);
    let party = ReactionType::Custom {
        animated: false,
        id: EmojiId::new(55),
        name: Some("party".into()),
    };
    let custom = http
        .get_reaction_users(c_id, m_id, &party, 100, None)
        .await
        .unwrap();
    assert_eq!(ids(custom), [bob.id]);

    // Raw: 25 by default, the bucket named, the errors.
    let c = client(&s);
    let auth = format!("Bot {}", s.token());
    let get = |message: u64, emoji: &str, query: &str| {
        c.get(api(&format!(
            "/channels/{channel}/messages/{message}/reactions/{emoji}?{query}"
        )))
        .header("authorization", &auth)
        .send()
    };
    let r = get(m, "%F0%9F%8E%89", "").await.unwrap();
    assert_eq!(r.headers()["x-ratelimit-bucket"], "reaction_read");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "4");
    let listed: Vec<u64> = r.json::<Vec<Value>>().await.unwrap()[..]
        .iter()
        .map(|u| u["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut expected: Vec<u64> = crowd.iter().map(|h| h.id).collect();
    expected.truncate(25);
    assert_eq!(listed, expected);
    let r = get(m + 1000, "%F0%9F%8E%89", "").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 10008);
    let r = get(m, "%F0%9F%A6%80", "limit=100").await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    let r = get(m, "%F0%9F%8E%89", "limit=0").await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 50035);
    let r = get(m, "%F0%9F%91%8D", &format!("after={}", cat.id))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    let r = get(m, "%F0%9F%91%8D", "").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["x-ratelimit-bucket"], "reaction_read");

    // Another channel has a bucket of its own.
    let r = c
        .get(api(&format!(
            "/channels/{other}/messages/{elsewhere}/reactions/%F0%9F%91%8D"
        )))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
}
