//! `kbbridge status`: backfill progress, interrupted sends and rejections, from the database.

use std::process::ExitCode;

use bridge_config::Config;

use crate::{
    output::{Escaped, outln},
    wiring,
};

/// How many rejected messages to list per job.
const REJECTS_SHOWN: usize = 20;

/// Prints every job's progress row, then its rejected messages.
///
/// # Errors
/// When the database cannot be opened or read.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let rows = store.all_progress().await?;
    if rows.is_empty() {
        outln!(
            "no backfill has run yet against {}",
            wiring::redacted_db(config)
        )?;
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<22} {:<34} {:>8} {:>8} {:<8} updated (UTC)",
        "source",
        "target",
        "copied",
        "rejected",
        "state"
    )?;
    for p in &rows {
        let pending = store.pending_in(&p.to).await?.len();
        let state = match (p.done, pending) {
            (true, 0) => "done".to_string(),
            (_, 0) => "partial".to_string(),
            (_, n) => format!("{n} pending"),
        };
        outln!(
            "{:<22} {:<34} {:>8} {:>8} {:<8} {}",
            Escaped(&p.from.chat),
            Escaped(&p.to),
            p.copied,
            p.rejected,
            state,
            p.updated_at.format("%Y-%m-%d %H:%M:%S"),
        )?;
    }
    for p in &rows {
        let rejected = store.rejected(&p.from, &p.to).await?;
        if rejected.is_empty() {
            continue;
        }
        outln!("\nrejected by {} ({}):", Escaped(&p.to), rejected.len())?;
        for r in rejected.iter().take(REJECTS_SHOWN) {
            outln!(
                "  {} part {}: {}",
                Escaped(&r.origin.msg),
                r.part,
                Escaped(&r.reason)
            )?;
        }
        if rejected.len() > REJECTS_SHOWN {
            outln!("  … and {} more", rejected.len() - REJECTS_SHOWN)?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
