//! `kbbridge status`: backfill progress, interrupted sends and rejections, from the database.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::{MappingStore, store::Progress};

use crate::wiring;

/// How many rejected (or degraded) messages to list per job.
const REJECTS_SHOWN: usize = 20;

/// Prints every job's progress row, then its rejected messages, then the copies made without
/// some attachments.
///
/// # Errors
/// When the database cannot be opened or read.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let rows = store.all_progress().await?;
    if rows.is_empty() {
        println!(
            "no backfill has run yet against {}",
            wiring::redacted_db(config)
        );
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<34} {:>8} {:>8} {:<8} updated (UTC)",
        "source", "target", "copied", "rejected", "state"
    );
    for p in &rows {
        let pending = store.pending_in(&p.to).await?.len();
        let state = match (p.done, pending) {
            (true, 0) => "done".to_string(),
            (_, 0) => "partial".to_string(),
            (_, n) => format!("{n} pending"),
        };
        println!(
            "{:<22} {:<34} {:>8} {:>8} {:<8} {}",
            p.from.chat.as_str(),
            p.to.to_string(),
            p.copied,
            p.rejected,
            state,
            p.updated_at.format("%Y-%m-%d %H:%M:%S"),
        );
    }
    for p in &rows {
        let rejected = store.rejected(&p.from, &p.to).await?;
        if rejected.is_empty() {
            continue;
        }
        println!("\nrejected by {} ({}):", p.to, rejected.len());
        for r in rejected.iter().take(REJECTS_SHOWN) {
            println!("  {} part {}: {}", r.origin.msg, r.part, r.reason);
        }
        if rejected.len() > REJECTS_SHOWN {
            println!("  … and {} more", rejected.len() - REJECTS_SHOWN);
        }
    }
    print_degraded(&store, &rows).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Lists, per job, the copies delivered without some attachments, with their notes.
async fn print_degraded(store: &MappingStore, rows: &[Progress]) -> anyhow::Result<()> {
    for p in rows {
        let degraded = store.degraded(&p.from, &p.to).await?;
        if degraded.is_empty() {
            continue;
        }
        println!(
            "\ncopied without some attachments into {} ({}):",
            p.to,
            degraded.len()
        );
        for d in degraded.iter().take(REJECTS_SHOWN) {
            for note in d.notes.lines() {
                // Names come from the export: keep terminal control sequences out.
                let note: String = note
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                println!("  {}: {note}", d.origin.msg);
            }
        }
        if degraded.len() > REJECTS_SHOWN {
            println!("  … and {} more", degraded.len() - REJECTS_SHOWN);
        }
    }
    Ok(())
}
