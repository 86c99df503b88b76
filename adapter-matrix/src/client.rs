//! [`MatrixClient`]: ruma's request types sent with reqwest, as the appservice.
//!
//! Every request carries the `as_token`; a request made for a ghost adds `?user_id=` (identity
//! assertion), which is also what makes Synapse honour `?ts=` on sends (`matrix.md` §1.4).
//! Error answers are read here, once, into [`MatrixError::Api`] with the error code and any
//! `retry_after_ms`; the classification into the engine's classes is in `error.rs`.

use std::{borrow::Cow, collections::BTreeMap, time::Duration};

use bridge_core::Secret;
use ruma::{
    OwnedServerName, OwnedUserId, UserId,
    api::{
        IncomingResponseExt, OutgoingRequest, OutgoingRequestAppserviceExt, SupportedVersions,
        auth_scheme::{AuthScheme, SendAccessToken},
        client::discovery::get_supported_versions,
        path_builder::{PathBuilder, SinglePath, VersionHistory},
    },
};
use tokio::sync::OnceCell;
use tracing::{debug, trace};
use url::Url;

use crate::error::MatrixError;

/// How long one request may take, upload included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The homeserver's client-server API, spoken as the appservice.
pub struct MatrixClient {
    http: reqwest::Client,
    /// The homeserver URL without a trailing slash.
    base: String,
    as_token: Secret,
    server_name: OwnedServerName,
    bot: OwnedUserId,
    /// `GET /versions`, asked once: ruma picks each endpoint's path from it.
    versions: OnceCell<SupportedVersions>,
}

impl std::fmt::Debug for MatrixClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixClient")
            .field("base", &self.base)
            .field("bot", &self.bot)
            .finish()
    }
}

/// The input a path builder needs, from the homeserver's supported versions.
pub trait PathInput: PathBuilder {
    /// The input for this builder.
    fn input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for VersionHistory {
    fn input(versions: &SupportedVersions) -> Cow<'_, SupportedVersions> {
        Cow::Borrowed(versions)
    }
}

impl PathInput for SinglePath {
    fn input(_: &SupportedVersions) {}
}

impl MatrixClient {
    /// The client `[matrix]` describes.
    ///
    /// # Errors
    /// [`MatrixError::Invalid`] when `homeserver`, `server_name` or `as_token` is missing or
    /// unusable.
    pub fn for_config(config: &crate::config::MatrixConfig) -> Result<Self, MatrixError> {
        let homeserver = config
            .homeserver
            .as_ref()
            .ok_or_else(|| MatrixError::Invalid("matrix.homeserver is not set".to_owned()))?;
        let server_name = config
            .server_name
            .as_deref()
            .ok_or_else(|| MatrixError::Invalid("matrix.server_name is not set".to_owned()))?;
        if config.as_token.is_empty() {
            return Err(MatrixError::Invalid(
                "matrix.as_token is not set (KBBRIDGE__MATRIX__AS_TOKEN)".to_owned(),
            ));
        }
        Self::new(
            homeserver,
            server_name,
            config.as_token.clone(),
            &config.bot_localpart,
        )
    }

    /// A client for `homeserver`, whose users live on `server_name`, acting as the appservice
    /// whose bot is `@bot_localpart:server_name`.
    ///
    /// # Errors
    /// [`MatrixError::Invalid`] when the names do not make Matrix IDs;
    /// [`MatrixError::Connection`] when the HTTP client cannot be built.
    pub fn new(
        homeserver: &Url,
        server_name: &str,
        as_token: Secret,
        bot_localpart: &str,
    ) -> Result<Self, MatrixError> {
        let server_name = OwnedServerName::try_from(server_name)
            .map_err(|e| MatrixError::Invalid(format!("server_name {server_name:?}: {e}")))?;
        let bot = UserId::parse(format!("@{bot_localpart}:{server_name}"))
            .map_err(|e| MatrixError::Invalid(format!("bot_localpart {bot_localpart:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("kbbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(MatrixError::Connection)?;
        Ok(Self {
            http,
            base: homeserver.as_str().trim_end_matches('/').to_owned(),
            as_token,
            server_name,
            bot,
            versions: OnceCell::new(),
        })
    }

    /// The homeserver's name (`example.org`).
    pub fn server_name(&self) -> &OwnedServerName {
        &self.server_name
    }

    /// The appservice's bot (`@kbbridge:example.org`).
    pub fn bot(&self) -> &UserId {
        &self.bot
    }

    /// The homeserver URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends `req` as the bot (`as_user = None`) or as the ghost `as_user`, and reads the answer.
    ///
    /// # Errors
    /// [`MatrixError::Api`] for an error answer, [`MatrixError::Connection`] when none came.
    pub async fn send<R>(
        &self,
        req: R,
        as_user: Option<&UserId>,
    ) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest + OutgoingRequestAppserviceExt,
        R::PathBuilder: PathInput,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
    {
        let versions = self.versions().await?;
        self.send_with(req, as_user, versions).await
    }

    async fn versions(&self) -> Result<&SupportedVersions, MatrixError> {
        self.versions
            .get_or_try_init(|| async {
                // `/versions` has a single path: the versions are not needed to build it.
                let none = SupportedVersions::from_parts(&[], &BTreeMap::new());
                let answer = self
                    .send_with(get_supported_versions::Request::new(), None, &none)
                    .await?;
                debug!(versions = ?answer.versions, "homeserver versions");
                Ok(SupportedVersions::from_parts(
                    &answer.versions,
                    &answer.unstable_features,
                ))
            })
            .await
    }

    async fn send_with<R>(
        &self,
        req: R,
        as_user: Option<&UserId>,
        versions: &SupportedVersions,
    ) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest + OutgoingRequestAppserviceExt,
        R::PathBuilder: PathInput,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
    {
        let identity = as_user
            .map(ruma::api::AppserviceUserIdentity::new)
            .unwrap_or_default();
        let request: http::Request<Vec<u8>> = req
            .try_into_http_request_with_identity(
                &self.base,
                // The one place the token leaves its `Secret`.
                SendAccessToken::Always(self.as_token.expose()),
                identity,
                R::PathBuilder::input(versions),
            )
            .map_err(|e| MatrixError::Request(e.to_string()))?;
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let request = reqwest::Request::try_from(request).map_err(connection)?;
        let response = self.http.execute(request).await.map_err(connection)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(connection)?;
        trace!(%method, path = %path, status = status.as_u16(), "matrix request");
        if !status.is_success() {
            return Err(api_error(status.as_u16(), &headers, &body));
        }
        let mut answer = http::Response::builder().status(status);
        for (name, value) in &headers {
            answer = answer.header(name, value);
        }
        let answer = answer
            .body(body.as_ref())
            .map_err(|e| MatrixError::Response(e.to_string()))?;
        R::IncomingResponse::try_from_http_response(answer)
            .map_err(|e| MatrixError::Response(format!("{method} {path}: {e}")))
    }
}

/// A transport error without its URL: the URL of a request made for a ghost carries its
/// `user_id` and any query a request has, and no URL belongs in a log line.
fn connection(e: reqwest::Error) -> MatrixError {
    MatrixError::Connection(e.without_url())
}

/// Reads an error answer: `{"errcode", "error", "retry_after_ms"}`, or a `Retry-After` header.
pub(crate) fn api_error(status: u16, headers: &http::HeaderMap, body: &[u8]) -> MatrixError {
    #[derive(serde::Deserialize, Default)]
    struct Body {
        errcode: Option<String>,
        error: Option<String>,
        retry_after_ms: Option<u64>,
    }
    let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
    let header = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let message = parsed.error.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.chars().take(200).collect()
    });
    MatrixError::Api {
        status,
        errcode: parsed.errcode.unwrap_or_else(|| "-".to_owned()),
        message,
        retry_after: parsed.retry_after_ms.map(Duration::from_millis).or(header),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_and_wait() {
        let e = api_error(
            429,
            &http::HeaderMap::new(),
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2500}"#,
        );
        assert!(e.is("M_LIMIT_EXCEEDED"));
        assert!(
            matches!(e, MatrixError::Api { retry_after: Some(d), .. } if d == Duration::from_millis(2500))
        );

        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("3"),
        );
        let e = api_error(503, &headers, b"<html>bad gateway</html>");
        assert_eq!(e.errcode(), Some("-"));
        assert!(
            matches!(e, MatrixError::Api { retry_after: Some(d), ref message, .. }
            if d == Duration::from_secs(3) && message.contains("bad gateway"))
        );
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let url = Url::parse("http://127.0.0.1:8008/").unwrap();
        let c = MatrixClient::new(&url, "localhost", Secret::new("hunter2"), "kbbridge").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.base_url(), "http://127.0.0.1:8008");
        assert_eq!(c.bot().as_str(), "@kbbridge:localhost");
    }
}
