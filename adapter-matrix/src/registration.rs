//! The appservice registration file the operator gives the homeserver
//! (`kbbridge matrix-registration`).
//!
//! It claims the ghosts' users and the aliases of created rooms as **exclusive** namespaces
//! (`@<ghost_prefix>.*`, `#<ghost_prefix>.*`), so nobody else can take a ghost's name, and sets
//! `rate_limited: false` so the backfill is not held to a human's pace.

use rand::{Rng, distr::Alphanumeric};

use crate::{config::MatrixConfig, error::MatrixError};

/// The registration's `id`: the homeserver's name for this appservice.
pub const APPSERVICE_ID: &str = "kbbridge";

/// A new random token (64 letters and digits) for `as_token` or `hs_token`.
pub fn new_token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}

/// The registration YAML for `config`, with these tokens.
///
/// # Errors
/// [`MatrixError::Invalid`] without a `server_name`.
pub fn registration_yaml(
    config: &MatrixConfig,
    as_token: &str,
    hs_token: &str,
) -> Result<String, MatrixError> {
    let server = config
        .server_name
        .as_deref()
        .ok_or_else(|| MatrixError::Invalid("matrix.server_name is not set".to_owned()))?;
    let namespace = |sigil: char| {
        let regex = format!(
            "{sigil}{}.*:{}",
            regex_escape(&config.ghost_prefix),
            regex_escape(server)
        );
        format!(
            "    - exclusive: true\n      regex: {}\n",
            single_quoted(&regex)
        )
    };
    Ok(format!(
        "# kbbridge's appservice registration. Give this file to the homeserver (Synapse:\n\
         # `app_service_config_files` in homeserver.yaml, then restart it), and the same tokens to\n\
         # kbbridge (KBBRIDGE__MATRIX__AS_TOKEN, KBBRIDGE__MATRIX__HS_TOKEN). It holds secrets.\n\
         id: {id}\n\
         url: {url}\n\
         as_token: {as_token}\n\
         hs_token: {hs_token}\n\
         sender_localpart: {bot}\n\
         rate_limited: false\n\
         namespaces:\n  users:\n{users}  aliases:\n{aliases}  rooms: []\n",
        id = APPSERVICE_ID,
        url = double_quoted(&format!("http://{}", config.listen)),
        as_token = double_quoted(as_token),
        hs_token = double_quoted(hs_token),
        bot = double_quoted(&config.bot_localpart),
        users = namespace('@'),
        aliases = namespace('#'),
    ))
}

/// A YAML double-quoted scalar (a JSON string is one).
fn double_quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A YAML single-quoted scalar: only `'` needs escaping, by doubling.
fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Escapes regex metacharacters (Python `re` syntax, as Synapse reads it).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_claims_ghosts_and_aliases_exclusively() {
        let config = MatrixConfig {
            server_name: Some("example.org".into()),
            ghost_prefix: "kb_".into(),
            ..MatrixConfig::default()
        };
        let yaml = registration_yaml(&config, "as\"tok", "hs_tok").unwrap();
        let expected = "\
id: kbbridge
url: \"http://127.0.0.1:29333\"
as_token: \"as\\\"tok\"
hs_token: \"hs_tok\"
sender_localpart: \"kbbridge\"
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: '@kb_.*:example\\.org'
  aliases:
    - exclusive: true
      regex: '#kb_.*:example\\.org'
  rooms: []
";
        assert!(yaml.ends_with(expected), "{yaml}");
        assert!(yaml.lines().take_while(|l| l.starts_with('#')).count() >= 3);
    }

    #[test]
    fn tokens_are_long_and_random() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
