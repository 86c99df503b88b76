//! The `[matrix]` section of the mapping file, and the syntax of Matrix IDs.
//!
//! Only this adapter knows what a Matrix ID looks like, so the checks `bridge-config` runs on a
//! link's `matrix = "…"` value live here too: [`check_room`], [`check_user_id`].

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
};

use bridge_core::Secret;
use serde::Deserialize;
use url::Url;

/// The `[matrix]` section: the homeserver, the appservice registration, and naming.
///
/// `homeserver`, `server_name`, `as_token` and `hs_token` are optional here because a file may
/// hold a `[matrix]` section that no link uses; `bridge-config` requires them as soon as one
/// does. Unknown keys are not denied here: `bridge-config` reports them all at once.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base, e.g. `http://127.0.0.1:8008`.
    pub homeserver: Option<Url>,
    /// The homeserver's name: the part after `:` in user IDs (`example.org`).
    pub server_name: Option<String>,
    /// The appservice token kbbridge sends to the homeserver (registration `as_token`). Usually
    /// given through the environment (`KBBRIDGE__MATRIX__AS_TOKEN`). Empty: unset.
    pub as_token: Secret,
    /// The token the homeserver sends to kbbridge (registration `hs_token`). Usually given
    /// through the environment (`KBBRIDGE__MATRIX__HS_TOKEN`). Empty: unset.
    pub hs_token: Secret,
    /// Where kbbridge listens for the homeserver's transactions (registration `url`).
    pub listen: SocketAddr,
    /// The bot's localpart (registration `sender_localpart`): `@kbbridge:server_name`.
    pub bot_localpart: String,
    /// The localpart prefix of ghost users, one per Keybase user: `@kb_alice:server_name`.
    /// Must match the registration's exclusive user namespace.
    pub ghost_prefix: String,
    /// Whether kbbridge's own notes (system lines, "messages may be missing here") are sent as
    /// `m.notice` rather than `m.text`.
    pub notices: bool,
    /// Keybase users who already have a Matrix account, by Keybase username, e.g.
    /// `alice = "@alice:example.org"`: mentions of them become pills to that account, and the
    /// account is invited to the rooms they were in. Their messages still come from their ghost,
    /// since an appservice can only send as users in its own namespace.
    pub users: BTreeMap<String, String>,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            homeserver: None,
            server_name: None,
            as_token: Secret::default(),
            hs_token: Secret::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 29333)),
            bot_localpart: "kbbridge".to_owned(),
            ghost_prefix: "kb_".to_owned(),
            notices: true,
            users: BTreeMap::new(),
        }
    }
}

impl MatrixConfig {
    /// What is wrong inside the section, as `(key, message)` pairs (keys relative to the
    /// section, `users.<name>` for a user). Missing values are `bridge-config`'s business.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut push = |key: &str, message: String| problems.push((key.to_owned(), message));
        if let Some(url) = &self.homeserver {
            if !matches!(url.scheme(), "http" | "https") {
                push(
                    "homeserver",
                    format!("must be an http:// or https:// URL, not {}:", url.scheme()),
                );
            } else if !url.username().is_empty() || url.password().is_some() {
                push(
                    "homeserver",
                    "must not contain a user name or password".to_owned(),
                );
            }
        }
        if let Some(name) = &self.server_name {
            if let Err(why) = check_server_name(name) {
                push(
                    "server_name",
                    format!("{name:?} is not a Matrix server name: {why}"),
                );
            }
        }
        if let Err(why) = check_new_localpart(&self.bot_localpart) {
            push("bot_localpart", why);
        }
        if let Err(why) = check_new_localpart(&self.ghost_prefix) {
            push("ghost_prefix", why);
        } else if self.bot_localpart.starts_with(&self.ghost_prefix) {
            // The registration's user namespace is `@<ghost_prefix>.*`: the bot would be a ghost.
            push(
                "ghost_prefix",
                format!("the bot_localpart {:?} starts with it", self.bot_localpart),
            );
        }
        for (name, user) in &self.users {
            if let Err(why) = check_user_id(user) {
                push(
                    &format!("users.{name}"),
                    format!("{user:?} is not a Matrix user ID: {why}"),
                );
            }
        }
        problems
    }
}

/// What a valid room reference in a link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomKind {
    /// A room ID: `!opaque:server`, or `!` and 43 base64 characters (room version 12).
    Id,
    /// A room alias: `#name:server`, resolved when the bridge starts.
    Alias,
}

/// Checks a room as written in a link: an ID (`!id:server`) or an alias (`#name:server`).
///
/// # Errors
/// Why it is not one, in a few words.
pub fn check_room(s: &str) -> Result<RoomKind, String> {
    let kind = match s.chars().next() {
        Some('!') => RoomKind::Id,
        Some('#') => RoomKind::Alias,
        _ => return Err("must start with `!` (an ID) or `#` (an alias)".to_owned()),
    };
    // Room version 12 IDs are the hash of the create event, without a server name.
    if kind == RoomKind::Id && s.len() == 44 && s[1..].bytes().all(is_base64url) {
        return Ok(kind);
    }
    let (local, server) = s[1..].split_once(':').ok_or("has no `:server` part")?;
    if local.is_empty() || local.contains(char::is_whitespace) {
        return Err("the part before `:` is empty or has spaces".to_owned());
    }
    check_server_name(server)?;
    Ok(kind)
}

/// Checks a user ID: `@localpart:server` (historical localparts accepted).
///
/// # Errors
/// Why it is not one, in a few words.
pub fn check_user_id(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix('@').ok_or("must start with `@`")?;
    let (local, server) = rest.split_once(':').ok_or("has no `:server` part")?;
    if local.is_empty() || !local.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the localpart is empty or has spaces or non-ASCII characters".to_owned());
    }
    check_server_name(server)
}

/// Checks a server name: a DNS name, IPv4 address or `[IPv6]`, with an optional `:port`.
///
/// # Errors
/// Why it is not one, in a few words.
pub fn check_server_name(s: &str) -> Result<(), String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (addr, rest) = v6.split_once(']').ok_or("`[` without `]`")?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not an IPv6 address between `[` and `]`".to_owned());
        }
        let port = match rest {
            "" => None,
            rest => Some(
                rest.strip_prefix(':')
                    .ok_or("only `:port` may follow `]`")?,
            ),
        };
        (None, port)
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(s), None),
        }
    };
    if let Some(host) = host {
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        if host.is_empty() || host.len() > 255 || !host.chars().all(valid) {
            return Err("the host has only letters, digits, `.` and `-`".to_owned());
        }
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the port is 1 to 5 digits".to_owned());
        }
    }
    Ok(())
}

/// A localpart kbbridge creates: non-empty, `a-z 0-9 . _ = - /` only (the current grammar).
fn check_new_localpart(s: &str) -> Result<(), String> {
    let valid = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/');
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if !s.bytes().all(valid) {
        return Err(format!("{s:?} may only have a-z, 0-9 and . _ = - /"));
    }
    Ok(())
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_ids_or_aliases() {
        assert_eq!(check_room("!abcdef:example.org"), Ok(RoomKind::Id));
        assert_eq!(check_room("#general:localhost:8448"), Ok(RoomKind::Alias));
        let v12 = format!("!{}", "A".repeat(43));
        assert_eq!(check_room(&v12), Ok(RoomKind::Id));
        for bad in [
            "room",
            "!abc",
            "!:example.org",
            "#a b:x",
            "!abc:",
            "#x:bad host",
        ] {
            assert!(check_room(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn server_names_take_ports_and_ipv6() {
        for good in [
            "localhost",
            "example.org:8448",
            "127.0.0.1",
            "[::1]",
            "[::1]:8448",
        ] {
            assert!(check_server_name(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "",
            "exa mple.org",
            "example.org:",
            "example.org:port",
            "[::1",
            "[zz]",
        ] {
            assert!(check_server_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn user_ids_need_at_and_server() {
        assert!(check_user_id("@alice:example.org").is_ok());
        assert!(check_user_id("@Old.Style:example.org").is_ok());
        for bad in ["alice:example.org", "@alice", "@:example.org", "@al ice:x"] {
            assert!(check_user_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn problems_name_their_keys() {
        let config = MatrixConfig {
            homeserver: Some(Url::parse("ftp://x").unwrap()),
            server_name: Some("bad name".into()),
            bot_localpart: "kb_bot".into(),
            users: [("alice".to_owned(), "alice".to_owned())].into(),
            ..MatrixConfig::default()
        };
        let keys: Vec<_> = config.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["homeserver", "server_name", "ghost_prefix", "users.alice"]
        );
        assert!(MatrixConfig::default().problems().is_empty());
    }
}
