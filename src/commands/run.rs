//! `kbbridge run`: backfill, then (in a later version) the live relay.

use std::process::ExitCode;

use bridge_config::Config;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{cli::LinkFilter, commands::backfill, logging::Display, wiring};

/// Runs the pending backfills; links that ask for a relay are reported as not yet relayed.
///
/// # Errors
/// As for `kbbridge backfill`.
pub async fn run(
    config: &Config,
    filter: &LinkFilter,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let code = backfill::run(config, filter, display, shutdown).await?;
    let relays: Vec<_> = wiring::select_links(config, &filter.links)?
        .into_iter()
        .filter(|l| l.mode.relays())
        .map(|l| l.name.clone())
        .collect();
    if !relays.is_empty() {
        warn!(links = ?relays, "the live relay is not part of this version yet; \
            these links were backfilled only");
    }
    Ok(code)
}
