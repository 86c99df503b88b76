//! The pre-flight check (`kbbridge check`): whether backfill into Matrix would start, asked
//! of the homeserver itself, without creating anything.
//!
//! In order: the homeserver answers (`GET /_matrix/client/versions`); it accepts the
//! `as_token` (`GET /account/whoami` as the appservice's bot: `M_UNKNOWN_TOKEN` means the
//! appservice is not registered or the token is wrong); the bot it names is on `server_name`
//! and is `bot_localpart`; the registration covers the ghosts (`ghost_prefix`); and the
//! appservice ping
//! (`POST /_matrix/client/v1/appservice/{id}/ping`), answered by a listener on
//! `matrix.listen`, proves the registration's `url` and the `hs_token`. Backfill needs all but
//! the last; what the ping could not verify is a note, a wrong `hs_token` a problem.

use std::{error::Error as _, time::Duration};

use bridge_core::preflight::{Report, Verdict};
use ruma::{
    OwnedTransactionId, OwnedUserId, ServerName, UserId,
    api::client::{account::whoami, appservice::request_ping, discovery::get_supported_versions},
};

use crate::{
    client::MatrixClient,
    config::MatrixConfig,
    error::MatrixError,
    localpart,
    ping::{PingListener, Received},
    registration::APPSERVICE_ID,
};

/// How long the homeserver may take to ping kbbridge back.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// What to tell the operator about the as_token the homeserver refused.
const NOT_REGISTERED: &str = "appservice not registered or as_token wrong: the homeserver does \
    not know this as_token; give it the registration from `kbbridge matrix-registration` \
    (Synapse: list the file in app_service_config_files, then restart it) and set \
    KBBRIDGE__MATRIX__AS_TOKEN to that registration's as_token";

/// Asks the homeserver of `config` whether a backfill would start, and pings the appservice
/// back through a listener on `config.listen`.
///
/// Never fails: whatever goes wrong is a finding of the report.
pub async fn preflight(config: &MatrixConfig) -> Report {
    let mut report = Report::default();
    let Some(client) = client(config, &mut report) else {
        return report;
    };
    if !check_homeserver(&client, &mut report).await {
        return report;
    }
    let Some(bot) = check_as_token(config, &client, &mut report).await else {
        return report;
    };
    check_namespace(config, &client, bot.server_name(), &mut report).await;
    check_ping(config, &client, &mut report).await;
    report
}

/// The client, or the problems that prevent making one.
fn client(config: &MatrixConfig, report: &mut Report) -> Option<MatrixClient> {
    let mut missing = |key: &str, how: &str| {
        report.add(
            "config",
            Verdict::Problem,
            format!("matrix.{key} is not set{how}"),
        );
    };
    if config.homeserver.is_none() {
        missing("homeserver", "");
    }
    if config.server_name.is_none() {
        missing("server_name", "");
    }
    if config.as_token.is_empty() {
        missing("as_token", " (KBBRIDGE__MATRIX__AS_TOKEN)");
    }
    let (Some(homeserver), Some(server_name)) = (&config.homeserver, &config.server_name) else {
        return None;
    };
    if config.as_token.is_empty() {
        return None;
    }
    match MatrixClient::new(
        homeserver,
        server_name,
        config.as_token.clone(),
        &config.bot_localpart,
    ) {
        Ok(client) => Some(client),
        Err(e) => {
            report.add("config", Verdict::Problem, e.to_string());
            None
        }
    }
}

/// An error and its causes, each once (reqwest keeps "connection refused" in a source). A
/// transport error is shown by its own words, which the callers already introduce.
fn with_causes(e: &MatrixError) -> String {
    let (mut text, mut source) = match e {
        MatrixError::Connection(inner) => (inner.to_string(), inner.source()),
        _ => (e.to_string(), e.source()),
    };
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// `GET /_matrix/client/versions`: true when the homeserver answers as one.
async fn check_homeserver(client: &MatrixClient, report: &mut Report) -> bool {
    let url = client.base_url();
    match client
        .send(get_supported_versions::Request::new(), None)
        .await
    {
        Ok(answer) => {
            let latest = answer.versions.last().map_or("?", String::as_str);
            report.add(
                "homeserver",
                Verdict::Ok,
                format!("the homeserver at {url} answers (Matrix up to {latest})"),
            );
            true
        }
        // Synapse checks a token sent to /versions: an unknown one is the next check's
        // business, and the homeserver did answer.
        Err(e) if e.is("M_UNKNOWN_TOKEN") || e.is("M_MISSING_TOKEN") => {
            report.add(
                "homeserver",
                Verdict::Ok,
                format!("the homeserver at {url} answers"),
            );
            true
        }
        Err(e @ MatrixError::Connection(_)) => {
            report.add(
                "homeserver",
                Verdict::Problem,
                format!(
                    "cannot reach the homeserver at {url} ({}); check matrix.homeserver and \
                     that the homeserver runs",
                    with_causes(&e)
                ),
            );
            false
        }
        Err(e) => {
            report.add(
                "homeserver",
                Verdict::Problem,
                format!(
                    "{url} does not answer GET /_matrix/client/versions as a Matrix homeserver \
                     ({}); check matrix.homeserver (the client-server API's base URL)",
                    with_causes(&e)
                ),
            );
            false
        }
    }
}

/// `whoami` as the bot: the as_token is accepted, and the bot is `@bot_localpart:server_name`.
/// The bot the homeserver named, when it accepted the as_token.
async fn check_as_token(
    config: &MatrixConfig,
    client: &MatrixClient,
    report: &mut Report,
) -> Option<OwnedUserId> {
    let me = match client.send(whoami::v3::Request::new(), None).await {
        Ok(me) => me.user_id,
        Err(e) if e.is("M_UNKNOWN_TOKEN") || e.is("M_MISSING_TOKEN") || e.status() == Some(401) => {
            report.add(
                "as_token",
                Verdict::Problem,
                format!("{NOT_REGISTERED} ({})", with_causes(&e)),
            );
            return None;
        }
        Err(e) => {
            report.add(
                "as_token",
                Verdict::Problem,
                format!("cannot check the as_token: {}", with_causes(&e)),
            );
            return None;
        }
    };
    report.add(
        "as_token",
        Verdict::Ok,
        format!("the homeserver accepts the as_token: the appservice's bot is {me}"),
    );
    let configured = config.server_name.as_deref().unwrap_or_default();
    if me.server_name().as_str() == configured {
        report.add(
            "server_name",
            Verdict::Ok,
            format!("server_name {configured} matches the homeserver's users"),
        );
    } else {
        report.add(
            "server_name",
            Verdict::Problem,
            format!(
                "matrix.server_name is {configured:?} but the homeserver's users are on {:?} \
                 (it answered {me}); set matrix.server_name = {:?}",
                me.server_name().as_str(),
                me.server_name().as_str()
            ),
        );
    }
    if me.localpart() != config.bot_localpart {
        report.add(
            "bot_localpart",
            Verdict::Problem,
            format!(
                "the registration's sender_localpart is {:?} but matrix.bot_localpart is {:?}; \
                 make them the same",
                me.localpart(),
                config.bot_localpart
            ),
        );
    }
    Some(me)
}

/// Whether the registration lets the appservice act as ghosts `@<ghost_prefix>…`: `whoami`
/// as one that does not exist. A homeserver refuses a user outside the appservice's
/// namespace ("cannot masquerade", Synapse) and one inside it that is not registered yet;
/// only the first is a problem. The ghost is asked on the homeserver's own `server` (a wrong
/// `server_name` is reported by itself).
async fn check_namespace(
    config: &MatrixConfig,
    client: &MatrixClient,
    server: &ServerName,
    report: &mut Report,
) {
    let localpart = localpart::ghost(&config.ghost_prefix, "kbbridge-check");
    let Ok(probe) = UserId::parse(format!("@{localpart}:{server}")) else {
        return;
    };
    let prefix = &config.ghost_prefix;
    match client.send(whoami::v3::Request::new(), Some(&probe)).await {
        Ok(_) => report.add(
            "namespace",
            Verdict::Ok,
            format!("the appservice may act as the ghosts @{prefix}…"),
        ),
        Err(MatrixError::Api { ref message, .. }) if message.contains("masquerade") => {
            report.add(
                "namespace",
                Verdict::Problem,
                format!(
                    "the registration does not give this appservice the users @{prefix}… \
                    (matrix.ghost_prefix): make a registration with `kbbridge \
                    matrix-registration` and give it to the homeserver, or set \
                    matrix.ghost_prefix to the prefix of the registration's user namespace"
                ),
            );
        }
        Err(e) if e.is("M_FORBIDDEN") => report.add(
            "namespace",
            Verdict::Ok,
            format!("the appservice may create the ghosts @{prefix}…"),
        ),
        Err(e) => report.add(
            "namespace",
            Verdict::Note,
            format!(
                "cannot tell whether the registration covers the ghosts @{prefix}…: {}",
                with_causes(&e)
            ),
        ),
    }
}

/// The appservice ping, answered by a listener on `matrix.listen`.
async fn check_ping(config: &MatrixConfig, client: &MatrixClient, report: &mut Report) {
    let listen = config.listen;
    if config.hs_token.is_empty() {
        report.add(
            "hs_token",
            Verdict::Note,
            "matrix.hs_token is not set (KBBRIDGE__MATRIX__HS_TOKEN): not verified; backfill \
             does not need it, the live relay will",
        );
        return;
    }
    let listener = match PingListener::bind(listen, config.hs_token.clone()).await {
        Ok(l) => l,
        Err(e) => {
            report.add(
                "hs_token",
                Verdict::Note,
                format!(
                    "cannot listen on {listen} (matrix.listen) to answer the homeserver's ping \
                     ({e}; is kbbridge already running?): the registration's url and the \
                     hs_token were not verified; backfill does not need them"
                ),
            );
            return;
        }
    };
    let txn: OwnedTransactionId = format!("kbbridge-check-{}", rand::random::<u64>()).into();
    let mut ping = request_ping::v1::Request::new(APPSERVICE_ID.to_owned());
    ping.transaction_id = Some(txn.clone());
    let answer = tokio::time::timeout(PING_TIMEOUT, client.send(ping, None)).await;
    let received = listener.received();
    drop(listener);
    let ours = |r: &Received| r.transaction_id.as_deref() == Some(txn.as_str());
    let (verdict, text) = match (answer, received) {
        (_, Some(r)) if ours(&r) && r.token_matches == Some(false) => (
            Verdict::Problem,
            "the homeserver pinged kbbridge with a different hs_token than matrix.hs_token: set \
             KBBRIDGE__MATRIX__HS_TOKEN to the registration's hs_token"
                .to_owned(),
        ),
        (_, Some(r)) if ours(&r) && r.token_matches.is_none() => (
            Verdict::Problem,
            "the homeserver pinged kbbridge without an hs_token; check the registration's \
             hs_token"
                .to_owned(),
        ),
        (Ok(Ok(answer)), Some(r)) if ours(&r) => (
            Verdict::Ok,
            format!(
                "the homeserver reached kbbridge at {listen} with the right hs_token (ping: \
                 {} ms)",
                answer.duration.as_millis()
            ),
        ),
        (Ok(Err(e)), _) if e.is("M_URL_NOT_SET") => (
            Verdict::Note,
            format!(
                "the registration has no url, so the homeserver cannot send kbbridge anything: \
                 the hs_token was not verified; backfill does not need it, the live relay will \
                 (set the registration's url to http://{listen})"
            ),
        ),
        (Ok(Err(e)), _) if e.is("M_FORBIDDEN") => (
            Verdict::Note,
            format!(
                "the homeserver refused to ping appservice {APPSERVICE_ID:?} ({}): the \
                 registration's id is probably not {APPSERVICE_ID:?}; the hs_token was not \
                 verified",
                with_causes(&e)
            ),
        ),
        (Ok(Err(e)), _) if e.status() == Some(404) || e.is("M_UNRECOGNIZED") => (
            Verdict::Note,
            "the homeserver does not offer the appservice ping (Matrix 1.7): the hs_token was \
             not verified"
                .to_owned(),
        ),
        (Ok(Err(e)), None) => (
            Verdict::Note,
            format!(
                "the homeserver could not reach kbbridge at the registration's url ({}), while \
                 kbbridge listens on {listen} (matrix.listen): make the registration's url \
                 http://{listen}; the hs_token was not verified",
                with_causes(&e)
            ),
        ),
        (Ok(Ok(_)), _) | (Ok(Err(_)), Some(_)) => (
            Verdict::Note,
            format!(
                "the ping was answered, but not by kbbridge's listener on {listen}: the \
                 registration's url points elsewhere; the hs_token was not verified"
            ),
        ),
        (Err(_), _) => (
            Verdict::Note,
            format!(
                "the homeserver did not finish the ping within {} s: the hs_token was not \
                 verified",
                PING_TIMEOUT.as_secs()
            ),
        ),
    };
    report.add("hs_token", verdict, text);
}
