//! What IDENTIFY and RESUME carry, and the checks Discord makes on them: the token, the shard,
//! the intents and the privileged intents the application was granted. Also the connection
//! URL's query (`?v=10&encoding=json`).

use serde::Deserialize;

use super::{
    frames::close,
    intents::{KNOWN, PRIVILEGED},
};

/// IDENTIFY's fields the stand-in looks at (serenity also sends `properties`, `compress`,
/// `large_threshold` and a `presence` whose `since` is not a number: all ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct Identify {
    token: String,
    pub(crate) intents: u64,
    #[serde(default)]
    pub(crate) shard: Option<(u32, u32)>,
}

/// RESUME.
#[derive(Debug, Deserialize)]
pub(crate) struct Resume {
    token: String,
    pub(crate) session_id: String,
    pub(crate) seq: u64,
}

/// A close code and its reason.
pub(crate) type Refusal = (u16, &'static str);

/// Whether `given` is the bot token, with or without the `Bot ` prefix (serenity sends it with
/// the prefix; Discord takes both).
fn token_ok(expected: &str, given: &str) -> bool {
    given.strip_prefix("Bot ").unwrap_or(given) == expected
}

impl Identify {
    /// Discord's checks, in its order: the token (4004), the shard (4010: the stand-in has one
    /// shard), unknown intent bits (4013), privileged intents not granted (4014).
    pub(crate) fn check(&self, token: &str, granted: u64) -> Result<(), Refusal> {
        if !token_ok(token, &self.token) {
            return Err(close::AUTHENTICATION_FAILED);
        }
        if self.shard.is_some_and(|s| s != (0, 1)) {
            return Err(close::INVALID_SHARD);
        }
        if self.intents & !KNOWN != 0 {
            return Err(close::INVALID_INTENTS);
        }
        if self.intents & PRIVILEGED & !granted != 0 {
            return Err(close::DISALLOWED_INTENTS);
        }
        Ok(())
    }
}

impl Resume {
    /// The token check (4004).
    pub(crate) fn check(&self, token: &str) -> Result<(), Refusal> {
        if token_ok(token, &self.token) {
            Ok(())
        } else {
            Err(close::AUTHENTICATION_FAILED)
        }
    }
}

/// Checks the connection URL's query: `v` must be 10 when given (4012), `encoding` json (the
/// stand-in speaks no ETF) and no `compress` transport (zlib-stream and zstd-stream are not
/// implemented; serenity asks for neither).
pub(crate) fn check_query(query: &str) -> Result<(), Refusal> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "v" if value != "10" => return Err(close::INVALID_VERSION),
            "encoding" if value != "json" => {
                return Err((
                    close::DECODE_ERROR.0,
                    "The stand-in speaks only encoding=json.",
                ));
            }
            "compress" => {
                return Err((
                    close::UNKNOWN_ERROR.0,
                    "The stand-in has no transport compression.",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::intents::{GUILD_MESSAGES, MESSAGE_CONTENT};

    fn identify(token: &str, intents: u64, shard: Option<(u32, u32)>) -> Identify {
        Identify {
            token: token.to_owned(),
            intents,
            shard,
        }
    }

    #[test]
    fn identify_checks_come_in_discords_order() {
        let all = GUILD_MESSAGES | MESSAGE_CONTENT;
        assert_eq!(
            identify("Bot t", all, Some((0, 1))).check("t", PRIVILEGED),
            Ok(())
        );
        assert_eq!(identify("t", all, None).check("t", PRIVILEGED), Ok(()));
        assert_eq!(
            identify("u", 1 << 40, None).check("t", 0),
            Err(close::AUTHENTICATION_FAILED)
        );
        assert_eq!(
            identify("t", all, Some((1, 2))).check("t", PRIVILEGED),
            Err(close::INVALID_SHARD)
        );
        assert_eq!(
            identify("t", 1 << 18, None).check("t", PRIVILEGED),
            Err(close::INVALID_INTENTS)
        );
        assert_eq!(
            identify("t", all, None).check("t", 0),
            Err(close::DISALLOWED_INTENTS)
        );
        assert_eq!(identify("t", GUILD_MESSAGES, None).check("t", 0), Ok(()));
    }

    #[test]
    fn the_query_takes_json_v10_only() {
        assert_eq!(check_query(""), Ok(()));
        assert_eq!(check_query("v=10&encoding=json"), Ok(()));
        assert_eq!(check_query("v=9"), Err(close::INVALID_VERSION));
        assert_eq!(check_query("v=10&encoding=etf").map_err(|e| e.0), Err(4002));
        assert_eq!(
            check_query("v=10&compress=zlib-stream").map_err(|e| e.0),
            Err(4000)
        );
    }
}
