//! What every `/api/v10` request goes through before and after its handler: injected faults,
//! the 1015 block, the bot token, the global limit, the route's bucket, the invalid-request
//! budget, and the statistics.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json,
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    ConnKill, Shared,
    faults::Fault,
    limits::{BucketLimit, Limits, Take},
    wire,
};

/// A route's bucket: its name (sent as `X-RateLimit-Bucket`), its top-level ID, its limit.
struct Bucket {
    name: &'static str,
    major: u64,
    limit: BucketLimit,
}

/// The bucket of a request, from its method and matched route.
fn bucket_of(limits: &Limits, method: &Method, route: &str, path: &str) -> Bucket {
    // The top-level ID is the segment after `channels`, `webhooks` or `guilds`.
    let segs: Vec<&str> = path.split('/').collect();
    let major = segs
        .windows(2)
        .find(|w| matches!(w[0], "channels" | "webhooks" | "guilds"))
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(0);
    let (name, limit) = match (method.as_str(), route) {
        ("POST", "/api/v10/webhooks/{id}/{token}") => ("webhook_execute", limits.webhook_execute),
        (_, "/api/v10/webhooks/{id}/{token}/messages/{mid}") => {
            ("webhook_message", limits.webhook_message)
        }
        ("POST", "/api/v10/channels/{c}/messages") => ("message_create", limits.message_create),
        ("GET", "/api/v10/channels/{c}/messages" | "/api/v10/channels/{c}/messages/{m}") => {
            ("message_read", limits.message_read)
        }
        (_, "/api/v10/channels/{c}/messages/{m}/reactions/{emoji}/@me") => {
            ("reaction", limits.reaction)
        }
        ("GET", "/api/v10/channels/{c}/messages/{m}/reactions/{emoji}") => {
            ("reaction_read", limits.reaction_read)
        }
        ("PATCH", "/api/v10/channels/{c}") => ("channel_edit", limits.channel_edit),
        ("POST", "/api/v10/guilds/{g}/channels") => ("channel_create", limits.channel_create),
        (_, "/api/v10/channels/{c}/webhooks") => ("webhook_manage", limits.webhook_manage),
        _ => ("other", limits.other),
    };
    Bucket { name, major, limit }
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

/// The rate-limit headers of an answer from `bucket`.
fn rate_headers(headers: &mut HeaderMap, b: &Bucket, remaining: u32, reset_after: Duration) {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + reset_after;
    set(headers, "x-ratelimit-limit", b.limit.limit.to_string());
    set(headers, "x-ratelimit-remaining", remaining.to_string());
    set(headers, "x-ratelimit-reset", secs(reset));
    set(headers, "x-ratelimit-reset-after", secs(reset_after));
    set(headers, "x-ratelimit-bucket", b.name.to_owned());
}

/// A 429 answer: JSON body with `retry_after` and `global`, `Retry-After` unless `header` is
/// false, `X-RateLimit-Scope`, and `X-RateLimit-Global` for the global limit.
fn too_many(limits: &Limits, retry_after: Duration, global: bool, header: bool) -> Response {
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": (retry_after.as_secs_f64() * 1000.0).ceil() / 1000.0,
        "global": global,
        "code": 0,
    });
    let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let h = r.headers_mut();
    if header {
        let value = if limits.whole_second_retry_after {
            retry_after.as_secs_f64().ceil().max(1.0).to_string()
        } else {
            secs(retry_after)
        };
        set(h, "retry-after", value);
    }
    set(
        h,
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.to_owned(),
    );
    if global {
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    r
}

/// The middleware on every `/api/v10` route.
pub(crate) async fn gate(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route = route.unwrap_or_default();
    let kill = req.extensions().get::<ConnKill>().cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let is_execute = method == Method::POST && route == "/api/v10/webhooks/{id}/{token}";
    let is_read = method == Method::GET && route == "/api/v10/channels/{c}/messages";
    s.stats(|st| st.requests += 1);

    // 1. Faults.
    let fault = s.lock_faults().next(is_execute, is_read);
    let mut drop_after = false;
    match fault {
        Some(Fault::ServerError(code)) => {
            s.stats(|st| st.injected_5xx += 1);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return wire::error(status, 0, "injected server error");
        }
        Some(Fault::Drop) => {
            s.stats(|st| st.dropped += 1);
            return drop_connection(kill).await;
        }
        Some(Fault::DropAfterCommit) => drop_after = true,
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::RateLimit {
            global,
            header,
            retry_after,
        }) => {
            s.stats(|st| st.injected_429 += 1);
            let r = too_many(&s.limits, retry_after, global, header);
            s.count_invalid(r.status());
            return r;
        }
        None => {}
    }

    // 2. The Cloudflare block.
    let now = Instant::now();
    if let Some(until) = s.banned_until() {
        if until > now {
            s.stats(|st| st.banned_answers += 1);
            return wire::banned(until.duration_since(now).as_secs().max(1));
        }
    }

    // 3. The token. Webhook routes carry their own token in the path; a bot token sent with
    // them must still be right.
    let webhook_route = route.starts_with("/api/v10/webhooks/");
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let good = auth.is_some_and(|a| a == format!("Bot {}", s.token));
    if !good && (!webhook_route || auth.is_some()) {
        let r = wire::error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
        s.count_invalid(r.status());
        return r;
    }

    // 4. The global limit, then the route's bucket.
    let bucket = bucket_of(&s.limits, &method, &route, &path);
    let (remaining, reset_after) = {
        let mut g = s.lock_limits();
        if let Take::Limited { retry_after } = g.global.take(s.limits.global, now) {
            drop(g);
            s.stats(|st| st.global_429 += 1);
            let r = too_many(&s.limits, retry_after, true, true);
            s.count_invalid(r.status());
            return r;
        }
        let w = g.buckets.entry((bucket.name, bucket.major)).or_default();
        match w.take(bucket.limit, now) {
            Take::Allowed {
                remaining,
                reset_after,
            } => (remaining, reset_after),
            Take::Limited { retry_after } => {
                let answered = w.answered;
                drop(g);
                s.stats(|st| {
                    st.route_429 += 1;
                    if answered {
                        st.late_429 += 1;
                    }
                });
                let mut r = too_many(&s.limits, retry_after, false, true);
                rate_headers(r.headers_mut(), &bucket, 0, retry_after);
                s.count_invalid(r.status());
                return r;
            }
        }
    };

    // 5. The handler.
    let mut response = next.run(req).await;
    rate_headers(response.headers_mut(), &bucket, remaining, reset_after);
    if let Some(w) = s
        .lock_limits()
        .buckets
        .get_mut(&(bucket.name, bucket.major))
    {
        w.answered = true;
    }
    s.count_invalid(response.status());
    let status = response.status().as_u16();
    s.stats(|st| *st.by_status.entry(status).or_default() += 1);
    if drop_after {
        s.stats(|st| st.dropped_after_commit += 1);
        return drop_connection(kill).await;
    }
    response
}

/// Closes the connection this request came on, without an answer.
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.0.notify_one();
            // The connection task drops this future with the connection.
            std::future::pending::<()>().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
