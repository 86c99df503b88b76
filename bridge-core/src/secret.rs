//! A string that must never reach a log line, and the registry of every such string known to
//! this process, which [`redact`] masks wherever text leaves it (log lines, error messages,
//! panics, rows written to the database).
//!
//! Every [`Secret`] is registered when it is made (the config's tokens and passwords are read
//! into `Secret`s); secrets learned later, such as the tokens of webhooks read back from
//! Discord, are registered with [`remember`].

use std::{borrow::Cow, fmt, sync::RwLock};

/// Shorter values are not registered: masking every "ab" in every line would make the logs
/// unreadable, and a credential that short protects nothing anyway.
pub const MIN_REDACTED_LEN: usize = 6;

/// What [`redact`] writes instead of a secret.
pub const MASK: &str = "***";

/// Every secret value known to this process, longest first (a secret containing another is
/// masked whole).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers `value` as a secret: [`redact`] masks it from now on. Values shorter than
/// [`MIN_REDACTED_LEN`] are ignored.
pub fn remember(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_REDACTED_LEN {
        return;
    }
    // Also as JSON and `{:?}` write it (`--log-format json`, a debug-printed struct).
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    let mut known = KNOWN
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for v in [value.to_owned(), escaped] {
        if !known.contains(&v) {
            known.push(v);
        }
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// A credential (bot token, appservice token). Its `Debug` and `Display` print `***`, so a
/// config struct that holds one can be logged whole without leaking it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential, and registers it for [`redact`].
    pub fn new(s: impl Into<String>) -> Self {
        let s = s.into();
        remember(&s);
        Self(s)
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no credential was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_credential() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn every_secret_made_or_learned_is_masked_in_text() {
        let made = Secret::new("s3cr3t-bot-token");
        remember("learned-webhook-token");
        remember("abc");
        let text = "GET /webhooks/1/learned-webhook-token?wait=true with s3cr3t-bot-token, abc";
        assert_eq!(
            redact(text),
            "GET /webhooks/1/***?wait=true with ***, abc",
            "short values are not registered"
        );
        assert!(matches!(redact("nothing secret"), Cow::Borrowed(_)));
        remember(r#"pa"ss\word"#);
        assert_eq!(
            redact(r#"{"url":"pa\"ss\\word"} pa"ss\word"#),
            r#"{"url":"***"} ***"#
        );
        drop(made);
    }
}
