//! What every end-to-end module needs: the repository root, a clean `kbbridge` command, text.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use discord_standin::StandIn;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `kbbridge` binary under test, with none of the caller's logging, config or service
/// manager settings leaking in (`RUST_LOG`, `KBBRIDGE_CONFIG`, `KBBRIDGE__…` overrides,
/// `NOTIFY_SOCKET` and the watchdog's variables, when the tests run under systemd).
pub fn kbbridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
    cmd.env_remove("RUST_LOG").env_remove("KBBRIDGE_CONFIG");
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KBBRIDGE__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The Keybase stand-in (`tests/standins/keybase`), next to the `kbbridge` binary; built first
/// when missing or older than its sources, as when this package is tested alone.
pub fn keybase_standin() -> PathBuf {
    keybase_standin::executable()
}

/// Output bytes as text, for assertions and failure messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// [`kbbridge`] pointed at the Discord stand-in `standin`, whose test certificate is in the file
/// `ca`, through the `[discord]` keys `connect_to` and `ca_file` set as environment overrides
/// (see tests/standins/discord/STANDIN.md); the caller sets the bot token.
pub fn kbbridge_on(standin: &StandIn, ca: &Path) -> Command {
    let mut cmd = kbbridge();
    cmd.env(
        "KBBRIDGE__DISCORD__CONNECT_TO",
        standin.tls_addr().to_string(),
    )
    .env("KBBRIDGE__DISCORD__CA_FILE", ca);
    cmd
}
