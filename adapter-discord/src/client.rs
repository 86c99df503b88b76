//! The HTTP side: serenity's `Http` built on an injected `reqwest` client, and [`Rest`], which
//! sends every request through kbbridge's [`Limiter`] and then serenity (its own rate limiter
//! when on), and returns the raw answer so the limiter can learn from its headers.
//!
//! Two ways to reach Discord:
//! - **direct** (default): `https://discord.com`, serenity's rate limiter on (it honours 429s
//!   with a `Retry-After` header by itself) and ours in front of it;
//! - **`api_base`**: through an HTTP proxy of the API (nirn-proxy…). serenity only honours
//!   `proxy` with its rate limiter off, so ours does everything: buckets, global, 429s.
//!
//! Either way, [`Transport`] applies `[discord]`'s `connect_to` (another address for
//! `discord.com`) and `ca_file` (the certificates to trust instead of the public roots): the
//! tests point them at the Discord stand-in; a private network or CA may need them too.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bridge_core::{BoxError, Secret};
use reqwest::{Certificate, StatusCode};
use serde::de::DeserializeOwned;
use serenity::{
    builder::CreateAllowedMentions,
    http::{Http, HttpBuilder, HttpError, Ratelimiter, Request},
};
use tracing::warn;
use url::Url;

use crate::{
    config::DiscordConfig,
    error::DiscordError,
    limiter::{Limiter, Observed},
};

/// How requests reach Discord: `[discord]`'s `connect_to` and `ca_file`, the file read and
/// checked. Both unset (the default): `discord.com` as DNS gives it, the public roots.
#[derive(Clone, Debug, Default)]
pub(crate) struct Transport {
    /// Where to connect for `discord.com`.
    connect_to: Option<SocketAddr>,
    /// The only certificates trusted, when set.
    roots: Option<Vec<Certificate>>,
}

impl Transport {
    /// The transport `config` asks for. Both settings are logged when set, since they change
    /// whom kbbridge trusts to be Discord.
    ///
    /// # Errors
    /// [`DiscordError::Setup`] when `ca_file` cannot be read or holds no PEM certificate.
    pub(crate) fn new(config: &DiscordConfig) -> Result<Self, DiscordError> {
        let roots = match &config.ca_file {
            None => None,
            Some(path) => {
                let shown = path.display();
                let pem = std::fs::read(path).map_err(|e| {
                    DiscordError::Setup(format!("discord.ca_file: cannot read {shown}: {e}"))
                })?;
                let certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
                    DiscordError::Setup(format!("discord.ca_file: {shown}: not PEM: {e}"))
                })?;
                if certs.is_empty() {
                    return Err(DiscordError::Setup(format!(
                        "discord.ca_file: {shown}: no certificate in it"
                    )));
                }
                warn!(ca_file = %shown, "only the certificates of discord.ca_file are trusted");
                Some(certs)
            }
        };
        if let Some(addr) = config.connect_to {
            warn!(connect_to = %addr, "discord.com is reached at discord.connect_to, not through DNS");
        }
        Ok(Self {
            connect_to: config.connect_to,
            roots,
        })
    }
}

/// An answer with a 2xx status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
}

/// Sends requests: our limiter, then serenity.
pub(crate) struct Rest {
    http: Arc<Http>,
    client: reqwest::Client,
    limiter: Arc<Limiter>,
}

impl Rest {
    /// Builds the clients. `api_base` routes every call through a proxy of the API.
    ///
    /// # Errors
    /// [`DiscordError::Setup`] for an empty or non-ASCII token.
    pub(crate) fn new(
        token: &Secret,
        api_base: Option<&Url>,
        transport: &Transport,
        limiter: Arc<Limiter>,
    ) -> Result<Self, DiscordError> {
        let raw = token.expose().trim();
        if raw.is_empty() || !raw.is_ascii() || raw.contains(char::is_whitespace) {
            return Err(DiscordError::Setup(
                "the bot token is missing or malformed (set KBBRIDGE__DISCORD__TOKEN)".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60));
        if let Some(roots) = &transport.roots {
            builder = builder.tls_built_in_root_certs(false);
            for cert in roots {
                builder = builder.add_root_certificate(cert.clone());
            }
        }
        if let Some(addr) = transport.connect_to {
            builder = builder.resolve("discord.com", addr);
        }
        let client = builder
            .build()
            .map_err(|e| DiscordError::Setup(e.to_string()))?;
        let token = if raw.starts_with("Bot ") {
            raw.to_owned()
        } else {
            format!("Bot {raw}")
        };
        let mut http = HttpBuilder::new(&token)
            .client(client.clone())
            .default_allowed_mentions(CreateAllowedMentions::new());
        http = match api_base {
            Some(base) => http
                .proxy(base.as_str().trim_end_matches('/'))
                .ratelimiter_disabled(true),
            None => {
                let mut rl = Ratelimiter::new(client.clone(), token);
                let l = limiter.clone();
                rl.set_ratelimit_callback(Box::new(move |info| l.note_serenity(&info)));
                http.ratelimiter(rl)
            }
        };
        Ok(Self {
            http: Arc::new(http.build()),
            client,
            limiter,
        })
    }

    /// The bot token as serenity sends it (`Bot …`); never logged.
    pub(crate) fn token(&self) -> &str {
        self.http.token()
    }

    /// The HTTP client (attachment downloads).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The limiter in front of every request.
    pub(crate) fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Sends `req` (`call` names it in errors and logs; it never holds a token).
    ///
    /// # Errors
    /// [`DiscordError`] for no answer or an error answer.
    pub(crate) async fn call(
        &self,
        call: &'static str,
        req: Request<'_>,
    ) -> Result<Answer, DiscordError> {
        let key = req.route_ref().ratelimiting_bucket();
        let permit = self.limiter.acquire(key).await;
        let conn = |source: BoxError| DiscordError::Connection { call, source };
        let response = match &self.http.ratelimiter {
            Some(rl) => rl.perform(req).await.map_err(|e| conn(transport(e)))?,
            None => {
                let builder = req
                    .build(&self.client, self.http.token(), self.http.proxy.as_deref())
                    .map_err(|e| conn(transport(e)))?;
                let built = builder.build().map_err(|e| conn(transport(e.into())))?;
                self.client
                    .execute(built)
                    .await
                    .map_err(|e| conn(Box::new(e.without_url())))?
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| conn(Box::new(e.without_url())))?
            .to_vec();
        let seen = Observed::read(status, &headers, &body);
        self.limiter.observe(permit, &seen);
        if status.is_success() {
            return Ok(Answer { body });
        }
        Err(error_answer(call, status, &seen, &body))
    }

    /// Sends `req` and decodes the JSON answer.
    ///
    /// # Errors
    /// As [`Rest::call`], and [`DiscordError::Decode`] for an answer that is not a `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        call: &'static str,
        req: Request<'_>,
    ) -> Result<T, DiscordError> {
        let answer = self.call(call, req).await?;
        serde_json::from_slice(&answer.body).map_err(|e| DiscordError::Decode {
            call,
            detail: e.to_string(),
        })
    }
}

/// A transport error as a cause, without its URL: reqwest's text carries the whole URL, and a
/// webhook's URL carries the webhook's token (`…/webhooks/<id>/<token>?wait=true`).
fn transport(e: serenity::Error) -> BoxError {
    match e {
        serenity::Error::Http(HttpError::Request(r)) => Box::new(r.without_url()),
        // serenity's other errors (a header it cannot parse, a bad proxy URL) as their text;
        // their values (an `ErrorResponse` keeps the URL) are not kept.
        other => other.to_string().into(),
    }
}

/// The error for a non-2xx answer.
fn error_answer(
    call: &'static str,
    status: StatusCode,
    seen: &Observed,
    body: &[u8],
) -> DiscordError {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = seen.retry_after;
        if json.is_none() {
            // Cloudflare's HTML page: no JSON, maybe a Retry-After.
            return DiscordError::Blocked {
                retry_after: retry_after.unwrap_or(Duration::from_secs(60)),
            };
        }
        let scope = if seen.global {
            "global"
        } else if seen.shared {
            "shared"
        } else {
            "user"
        };
        return DiscordError::RateLimited {
            call,
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            scope: scope.to_owned(),
        };
    }
    let code = json
        .as_ref()
        .and_then(|j| j.get("code"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(serde_json::Value::as_str)
        .map_or_else(
            || status.canonical_reason().unwrap_or("error").to_owned(),
            str::to_owned,
        );
    let detail = json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .map(field_errors)
        .unwrap_or_default();
    DiscordError::Api {
        call,
        status: status.as_u16(),
        code,
        message,
        detail,
    }
}

/// ` (content: Must be 2000 or fewer in length.; …)` from a 50035 `errors` tree.
fn field_errors(errors: &serde_json::Value) -> String {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        if let Some(obj) = v.as_object() {
            for (k, child) in obj {
                if k == "_errors" {
                    for e in child.as_array().into_iter().flatten() {
                        let m = e
                            .get("message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("?");
                        out.push(format!("{path}: {m}"));
                    }
                } else {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(child, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(errors, "", &mut out);
    if out.is_empty() {
        String::new()
    } else {
        format!(" ({})", out.join("; "))
    }
}
