//! `kbbridge check`: the mapping file is valid, every link's source chat exists and every named
//! target chat answers.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::HistorySource;

use crate::{
    output::{Escaped, outln},
    wiring,
};

/// How long a target may take to answer the reachability check.
const REACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Validates the config (already done by loading it), looks each backfill source up in the
/// export, and asks each named target chat whether it is reachable with the configured
/// credentials ("auto" chats do not exist until the first backfill makes them).
///
/// # Errors
/// When the export cannot be opened.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &[])?;
    outln!(
        "{}: {} link(s), mapping file is valid",
        config.path.display(),
        links.len()
    )?;
    let mut problems = 0;
    if links.iter().any(|l| l.mode.backfills()) {
        let export = wiring::open_export(config)?;
        for link in links.iter().filter(|l| l.mode.backfills()) {
            match export.count(&link.source.chat).await {
                Ok(Some(n)) => outln!(
                    "  {}: {} has {n} message(s) to copy",
                    Escaped(&link.name),
                    Escaped(&link.source)
                )?,
                Ok(None) => outln!("  {}: {} found", Escaped(&link.name), Escaped(&link.source))?,
                Err(e) => {
                    problems += 1;
                    let (name, source) = (Escaped(&link.name), Escaped(&link.source));
                    outln!("  {name}: {source}: {}", Escaped(e))?;
                }
            }
        }
    }
    let store = wiring::open_store(config).await?;
    for platform in wiring::target_platforms(&links) {
        let sink = match wiring::sink_for(config, platform, &store) {
            Ok(sink) => sink,
            Err(e) => {
                problems += 1;
                outln!("  {platform}: {}", Escaped(format!("{e:#}")))?;
                continue;
            }
        };
        for link in &links {
            let Some(target) = link.target(platform) else {
                continue;
            };
            if target.chat.as_str() == bridge_config::AUTO {
                outln!(
                    "  {}: the {platform} chat is made on the first backfill",
                    Escaped(&link.name)
                )?;
                continue;
            }
            let (name, target) = (Escaped(&link.name), Escaped(target));
            match tokio::time::timeout(REACH_TIMEOUT, sink.check(&target.0.chat)).await {
                Ok(Ok(())) => outln!("  {name}: {target} is reachable")?,
                Ok(Err(e)) => {
                    problems += 1;
                    outln!("  {name}: {target}: {}", Escaped(e))?;
                }
                Err(_) => {
                    problems += 1;
                    outln!("  {name}: {target}: no answer in {REACH_TIMEOUT:?}")?;
                }
            }
        }
    }
    store.close().await;
    if problems > 0 {
        outln!("{problems} problem(s); fix them and run `kbbridge check` again")?;
        return Ok(ExitCode::FAILURE);
    }
    outln!("everything checks out")?;
    Ok(ExitCode::SUCCESS)
}
