//! `[admin]`: the admin HTTP listener of `kbbridge run` (health, readiness, metrics, status).
//! Present only when the file (or the environment) has the section; everything but `/health`
//! needs its bearer token.

use std::net::{Ipv4Addr, SocketAddr};

use bridge_core::Secret;

use crate::{error::Problems, path::KeyPath, raw::RawAdmin};

/// Where the admin listener listens when `listen` is not set: loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 29334);

/// `[admin]`, validated.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// The listener's address.
    pub listen: SocketAddr,
    /// The bearer token every endpoint but `/health` requires.
    pub token: Secret,
}

/// The admin section, or `None` when the file has none; problems are recorded under `path`.
pub(crate) fn check(
    raw: Option<&RawAdmin>,
    path: &KeyPath,
    problems: &mut Problems,
) -> Option<AdminConfig> {
    let raw = raw?;
    let listen = match raw.listen.as_deref() {
        None => DEFAULT_LISTEN,
        Some(s) => match s.parse() {
            Ok(addr) => addr,
            Err(_) => {
                problems.push(
                    path.key("listen"),
                    format!("{s:?} is not an address and port (e.g. \"127.0.0.1:29334\")"),
                );
                return None;
            }
        },
    };
    let token = match raw.token.as_deref() {
        Some(t) if !t.trim().is_empty() => Secret::new(t),
        _ => {
            problems.push(
                path.key("token"),
                "missing: set KBBRIDGE__ADMIN__TOKEN (the bearer token the admin endpoints but \
                 /health require)",
            );
            return None;
        }
    };
    Some(AdminConfig { listen, token })
}
