//! The Discord adapter's error type, and its one classification into [`AdapterError`].

use std::time::Duration;

use bridge_core::{AdapterError, BoxError, StoreError};

/// Everything that can go wrong talking to Discord.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// The `[discord]` settings cannot work (an empty token, an unusable `ca_file`).
    #[error("invalid Discord setting: {0}")]
    Setup(String),
    /// No answer: connection refused or dropped, timeout, broken body.
    #[error("no answer from Discord to {call}")]
    Connection {
        /// What was being done.
        call: &'static str,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// A 429 answer.
    #[error("Discord rate-limited {call} ({scope}); retry after {retry_after:?}")]
    RateLimited {
        /// What was being done.
        call: &'static str,
        /// How long Discord asked us to wait.
        retry_after: Duration,
        /// `global`, `user` or `shared`.
        scope: String,
    },
    /// Cloudflare's "error code: 1015": too many invalid requests from this address.
    #[error(
        "Discord's edge blocked this address (error 1015: too many invalid requests); \
         retry after {retry_after:?}"
    )]
    Blocked {
        /// How long to wait (the `Retry-After` header, or a guess).
        retry_after: Duration,
    },
    /// Any other error answer.
    #[error("Discord refused {call}: HTTP {status}, code {code}: {message}{detail}")]
    Api {
        /// What was being done.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// Discord's JSON error code (0 when the body had none).
        code: i64,
        /// Discord's message.
        message: String,
        /// The per-field errors of a 50035, as ` (field: message; …)`, or empty.
        detail: String,
    },
    /// An answer this adapter cannot read.
    #[error("unexpected answer from Discord to {call}: {detail}")]
    Decode {
        /// What was being done.
        call: &'static str,
        /// What did not fit.
        detail: String,
    },
    /// A channel in the mapping file is not usable.
    #[error("{0}")]
    Unusable(String),
    /// The mapping store failed.
    #[error("mapping store")]
    Store(#[from] StoreError),
}

impl DiscordError {
    /// Discord's JSON error code, when this is an error answer.
    pub fn code(&self) -> Option<i64> {
        match self {
            DiscordError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<DiscordError> for AdapterError {
    /// The one place Discord errors are classified.
    ///
    /// - 429 (any scope) and the 1015 block: wait the time given, then retry.
    /// - no answer, 5xx, an unreadable answer, an unknown webhook (the sink forgets it and
    ///   finds or makes another on the retry): transient.
    /// - 401, 403, unknown channel or guild, bad settings, a failing store, an unusable
    ///   channel: fatal for the link; the message says what to fix.
    /// - any other 4xx (50035 too long or bad name, 50006 empty, 40005 too large, 30015 too
    ///   many files…): this message is rejected, with Discord's reason.
    fn from(e: DiscordError) -> Self {
        match &e {
            DiscordError::RateLimited { retry_after, .. }
            | DiscordError::Blocked { retry_after } => AdapterError::RateLimited {
                retry_after: *retry_after,
            },
            DiscordError::Connection { .. } | DiscordError::Decode { .. } => {
                AdapterError::Transient(Box::new(e))
            }
            DiscordError::Setup(_) | DiscordError::Store(_) | DiscordError::Unusable(_) => {
                AdapterError::Fatal(Box::new(e))
            }
            DiscordError::Api {
                status,
                code,
                message,
                detail,
                ..
            } => match (*status, *code) {
                (401, _) => AdapterError::fatal(format!(
                    "{e}; check the bot token (KBBRIDGE__DISCORD__TOKEN)"
                )),
                (403, _) => AdapterError::fatal(format!(
                    "{e}; the bot needs View Channel, Send Messages, Read Message History, \
                     Manage Webhooks and Manage Channels"
                )),
                (404, 10003 | 10004) => AdapterError::Fatal(Box::new(e)),
                (404, 10015) | (500..=599, _) => AdapterError::Transient(Box::new(e)),
                (429, _) => AdapterError::RateLimited {
                    retry_after: Duration::from_secs(1),
                },
                _ => AdapterError::rejected(format!("Discord code {code}: {message}{detail}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: i64) -> AdapterError {
        DiscordError::Api {
            call: "x",
            status,
            code,
            message: "m".into(),
            detail: String::new(),
        }
        .into()
    }

    #[test]
    fn classification_follows_what_the_engine_does_next() {
        assert!(matches!(api(401, 0), AdapterError::Fatal(_)));
        assert!(matches!(api(403, 50013), AdapterError::Fatal(_)));
        assert!(matches!(api(404, 10003), AdapterError::Fatal(_)));
        assert!(matches!(api(404, 10015), AdapterError::Transient(_)));
        assert!(matches!(api(502, 0), AdapterError::Transient(_)));
        assert!(matches!(api(400, 50035), AdapterError::Rejected { .. }));
        assert!(matches!(api(413, 40005), AdapterError::Rejected { .. }));
        assert!(matches!(api(400, 30015), AdapterError::Rejected { .. }));
        let limited = DiscordError::RateLimited {
            call: "x",
            retry_after: Duration::from_millis(1500),
            scope: "user".into(),
        };
        assert!(matches!(
            AdapterError::from(limited),
            AdapterError::RateLimited { retry_after } if retry_after == Duration::from_millis(1500)
        ));
    }
}
