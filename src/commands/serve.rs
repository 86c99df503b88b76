//! `kbbridge serve`: the admin listener alone (`[admin]`), over the export and the mapping
//! store, until stopped: the REST API for analysis tools, `/health`, `/metrics` and the status,
//! without relaying anything.

use std::process::ExitCode;

use anyhow::Context;
use bridge_config::Config;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    admin::{Admin, Readiness},
    wiring,
};

/// Serves until `shutdown`.
///
/// # Errors
/// When the file has no `[admin]` section, or the database, the export or the listener cannot
/// be opened.
pub async fn run(config: &Config, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let section = config.admin.as_ref().context(
        "`kbbridge serve` needs an [admin] section (listen, and the token in \
         KBBRIDGE__ADMIN__TOKEN)",
    )?;
    let store = wiring::open_store(config).await?;
    let export = match config.keybase.as_ref().and_then(|k| k.export.as_ref()) {
        Some(_) => Some(wiring::open_export(config)?),
        None => None,
    };
    let readiness = Readiness::default();
    readiness.up("serve", "the export and the store, read-only");
    let admin = Admin::start(section, store.clone(), export, readiness).await?;
    info!(addr = %admin.addr, "serving; stop with Ctrl-C or SIGTERM");
    shutdown.cancelled().await;
    admin.stop().await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
