//! What every end-to-end module needs: the repository root, a clean `kbbridge` command, text.

use std::{path::PathBuf, process::Command};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `kbbridge` binary under test, with none of the caller's logging or config settings
/// leaking in (`RUST_LOG`, `KBBRIDGE_CONFIG`, `KBBRIDGE__…` overrides).
pub fn kbbridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
    cmd.env_remove("RUST_LOG").env_remove("KBBRIDGE_CONFIG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KBBRIDGE__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Output bytes as text, for assertions and failure messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
