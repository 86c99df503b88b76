//! `kbbridge check`: the mapping file is valid and every link's source chat exists.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::HistorySource;

use crate::wiring;

/// Validates the config (already done by loading it) and looks each backfill source up.
///
/// # Errors
/// When the export cannot be opened.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &[])?;
    println!(
        "{}: {} link(s), mapping file is valid",
        config.path.display(),
        links.len()
    );
    let mut problems = 0;
    if links.iter().any(|l| l.mode.backfills()) {
        let export = wiring::open_export(config)?;
        for link in links.iter().filter(|l| l.mode.backfills()) {
            match export.count(&link.source.chat).await {
                Ok(Some(n)) => println!(
                    "  {}: {} has {n} message(s) to copy",
                    link.name, link.source
                ),
                Ok(None) => println!("  {}: {} found", link.name, link.source),
                Err(e) => {
                    problems += 1;
                    println!("  {}: {}: {e}", link.name, link.source);
                }
            }
        }
    }
    let store = wiring::open_store(config).await?;
    for platform in wiring::target_platforms(&links) {
        if let Err(e) = wiring::sink_for(config, platform, &store) {
            problems += 1;
            println!("  {platform}: {e:#}");
        }
    }
    if problems > 0 {
        println!("{problems} problem(s); fix them and run `kbbridge check` again");
        return Ok(ExitCode::FAILURE);
    }
    println!("everything checks out");
    Ok(ExitCode::SUCCESS)
}
