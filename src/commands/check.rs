//! `kbbridge check`: the mapping file is valid, every link's source chat exists and every named
//! target chat answers.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::{HistorySource, Report};

use crate::wiring;

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
                    println!("  {}: {}: {}", link.name, link.source, Report::new(&e));
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
                println!("  {platform}: {}", Report::new(e.as_ref()));
                continue;
            }
        };
        for link in &links {
            let Some(target) = link.target(platform) else {
                continue;
            };
            if target.chat.as_str() == bridge_config::AUTO {
                println!(
                    "  {}: the {platform} chat is made on the first backfill",
                    link.name
                );
                continue;
            }
            match tokio::time::timeout(REACH_TIMEOUT, sink.check(&target.chat)).await {
                Ok(Ok(())) => println!("  {}: {target} is reachable", link.name),
                Ok(Err(e)) => {
                    problems += 1;
                    println!("  {}: {target}: {}", link.name, Report::new(&e));
                }
                Err(_) => {
                    problems += 1;
                    println!("  {}: {target}: no answer in {REACH_TIMEOUT:?}", link.name);
                }
            }
        }
    }
    store.close().await;
    if problems > 0 {
        println!("{problems} problem(s); fix them and run `kbbridge check` again");
        return Ok(ExitCode::FAILURE);
    }
    println!("everything checks out");
    Ok(ExitCode::SUCCESS)
}
