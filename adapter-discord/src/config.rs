//! The `[discord]` section of the mapping file, and the syntax of Discord IDs.
//!
//! Only this adapter knows what a Discord ID looks like, so the check `bridge-config` runs on a
//! link's `discord = "…"` value lives here too: [`Snowflake`]'s `FromStr`.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
};

use bridge_core::Secret;
use serde::{Deserialize, Deserializer, de};
use url::Url;

/// The `[discord]` section: which server to write to, as which bot, and how copies look.
///
/// Unknown keys are not denied here: `bridge-config` reports them all at once, with their paths.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DiscordConfig {
    /// The bot token. Required as soon as one link uses Discord; usually given through the
    /// environment (`KBBRIDGE__DISCORD__TOKEN`) rather than written in the file. Empty: unset.
    #[serde(default)]
    pub token: Secret,
    /// The server (guild) the linked channels belong to, and where `"auto"` channels are made.
    pub guild_id: Snowflake,
    /// An HTTP proxy of the Discord API (such as nirn-proxy) to send REST calls through instead
    /// of `https://discord.com`.
    #[serde(default)]
    pub api_base: Option<Url>,
    /// The avatar URL given to each copied author, with `{username}` replaced by their Keybase
    /// username (e.g. `https://example.org/avatars/{username}.png`). Unset: Discord's default.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Where the original time of a copied message goes, since Discord stamps copies with the
    /// time of the copy.
    #[serde(default)]
    pub time_format: TimeFormat,
    /// How the reactions of a copied message are shown.
    #[serde(default)]
    pub reactions: ReactionStyle,
    /// For test equipment and private networks: the address (`IP:port`) to connect to for
    /// `discord.com` instead of the one DNS gives. TLS still checks the certificate against the
    /// name `discord.com`. The tests point it at the Discord stand-in. Unset: DNS.
    #[serde(default)]
    pub connect_to: Option<SocketAddr>,
    /// For test equipment and private CAs (a TLS-inspecting proxy, a private `api_base`): a PEM
    /// file of the certificates to trust for HTTPS **instead of** the public roots. Relative to
    /// the mapping file's folder. Unset: the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl DiscordConfig {
    /// Makes a relative `ca_file` relative to `dir`, the mapping file's folder.
    pub fn resolve_paths(&mut self, dir: &Path) {
        if let Some(path) = &mut self.ca_file {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = dir.join(&*path);
            }
        }
    }

    /// What is wrong inside the section, as `(key, message)` pairs (keys relative to the
    /// section). Whether a token is needed depends on the links: `bridge-config` checks that.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(url) = &self.api_base {
            if let Err(why) = check_http_url(url) {
                problems.push(("api_base".to_owned(), why));
            }
        }
        if let Some(template) = &self.avatar_url {
            if let Err(why) = check_avatar_template(template) {
                problems.push(("avatar_url".to_owned(), why));
            }
        }
        if self.connect_to.is_some() && self.api_base.is_some() {
            problems.push((
                "connect_to".to_owned(),
                "has no effect with api_base: requests then go to the proxy, not to discord.com"
                    .to_owned(),
            ));
        }
        if self
            .ca_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            problems.push(("ca_file".to_owned(), "must not be empty".to_owned()));
        }
        problems
    }
}

/// A Discord ID (guild, channel, message): a 64-bit number, written with 17 to 20 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(u64);

impl Snowflake {
    /// The number itself.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Snowflake {
    type Err = String;

    /// Parses the digits of a snowflake; the error says, in a few words, why it is not one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a Discord ID has only digits".to_owned());
        }
        if !(17..=20).contains(&s.len()) {
            return Err(format!(
                "a Discord ID has 17 to 20 digits, this one has {}",
                s.len()
            ));
        }
        s.parse()
            .map(Snowflake)
            .map_err(|_| "too large for a Discord ID".to_owned())
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    /// Accepts a string of digits or an integer (TOML integers hold every snowflake so far).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Snowflake;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Discord ID (17 to 20 digits)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Snowflake, E> {
                s.parse()
                    .map_err(|why| E::custom(format!("{s:?} is not a Discord ID: {why}")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Snowflake, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Snowflake, E> {
                self.visit_str(&n.to_string())
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Where the original time of a copied message is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TimeFormat {
    /// Before the text (`prefix`, the default).
    #[default]
    Prefix,
    /// After the text (`suffix`).
    Suffix,
    /// Not at all (`none`): only Discord's own time of the copy shows.
    None,
}

impl TryFrom<String> for TimeFormat {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "prefix" => Ok(Self::Prefix),
            "suffix" => Ok(Self::Suffix),
            "none" => Ok(Self::None),
            _ => Err(format!(r#"{s:?} is not one of "prefix", "suffix", "none""#)),
        }
    }
}

/// How the reactions of a copied message are shown (a webhook cannot react as the author).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ReactionStyle {
    /// A line under the copy listing each emoji and who reacted (`line`, the default).
    #[default]
    Line,
    /// The bot adds each emoji as its own reaction; who reacted is lost (`bot`).
    Bot,
    /// Dropped (`none`).
    None,
}

impl TryFrom<String> for ReactionStyle {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "line" => Ok(Self::Line),
            "bot" => Ok(Self::Bot),
            "none" => Ok(Self::None),
            _ => Err(format!(r#"{s:?} is not one of "line", "bot", "none""#)),
        }
    }
}

/// An `http`/`https` URL without credentials, query or fragment.
fn check_http_url(url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must be an http:// or https:// URL, not {}:",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query (?…) or a fragment (#…)".to_owned());
    }
    Ok(())
}

/// An `http(s)` URL once `{username}`, its only placeholder, is filled in.
fn check_avatar_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err("has a `{` without a closing `}`".to_owned());
        };
        let placeholder = &rest[start..start + len + 1];
        if placeholder != "{username}" {
            return Err(format!(
                "unknown placeholder {placeholder}: the only one is {{username}}"
            ));
        }
        rest = &rest[start + len + 1..];
    }
    let url = Url::parse(&template.replace("{username}", "alice"))
        .map_err(|why| format!("is not a URL template: {why}"))?;
    check_http_url(&url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_are_17_to_20_digits() {
        assert_eq!(
            "112233445566778899".parse::<Snowflake>().unwrap().get(),
            112233445566778899
        );
        assert!("18446744073709551615".parse::<Snowflake>().is_ok());
        let cases = [
            ("123", "17 to 20 digits"),
            ("18446744073709551616", "too large"),
            ("1122334455667788x9", "only digits"),
            ("", "17 to 20"),
            ("-112233445566778899", "only digits"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<Snowflake>().unwrap_err();
            assert!(err.contains(expected), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn avatar_templates_take_only_username() {
        assert!(check_avatar_template("https://a.example/{username}.png").is_ok());
        assert!(check_avatar_template("https://a.example/x.png").is_ok());
        let err = check_avatar_template("https://a.example/{user}.png").unwrap_err();
        assert!(err.contains("{user}"), "{err}");
        assert!(check_avatar_template("https://a.example/{username").is_err());
        assert!(check_avatar_template("ftp://a.example/{username}").is_err());
        assert!(check_avatar_template("{username}").is_err());
    }

    #[test]
    fn choices_name_the_valid_values() {
        assert_eq!(
            TimeFormat::try_from("suffix".to_owned()),
            Ok(TimeFormat::Suffix)
        );
        let err = ReactionStyle::try_from("emoji".to_owned()).unwrap_err();
        assert_eq!(err, r#""emoji" is not one of "line", "bot", "none""#);
    }

    #[test]
    fn connect_to_and_ca_file_are_checked_and_resolved() {
        let mut config: DiscordConfig = serde_json::from_value(serde_json::json!({
            "guild_id": "112233445566778899",
            "connect_to": "127.0.0.1:8443",
            "ca_file": "certs/ca.pem",
        }))
        .unwrap();
        assert_eq!(config.connect_to, Some("127.0.0.1:8443".parse().unwrap()));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        config.resolve_paths(Path::new("/etc/kbbridge"));
        assert_eq!(
            config.ca_file.as_deref(),
            Some(Path::new("/etc/kbbridge/certs/ca.pem"))
        );

        config.api_base = Some(Url::parse("http://127.0.0.1:8080").unwrap());
        config.ca_file = Some(PathBuf::new());
        let keys: Vec<_> = config.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["connect_to", "ca_file"]);

        let not_an_address = serde_json::from_value::<DiscordConfig>(serde_json::json!({
            "guild_id": "112233445566778899",
            "connect_to": "discord.example:443",
        }));
        assert!(not_an_address.is_err());
    }

    #[test]
    fn api_base_must_be_plain_http() {
        assert!(check_http_url(&Url::parse("http://127.0.0.1:8080").unwrap()).is_ok());
        assert!(check_http_url(&Url::parse("https://u:p@proxy.example").unwrap()).is_err());
        assert!(check_http_url(&Url::parse("unix:/run/proxy.sock").unwrap()).is_err());
    }
}
