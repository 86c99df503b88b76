//! The report a backfill ends with: one line per job with its counts from the store (copied,
//! rejected, degraded: copied with a note in place of some attachments), what this run found
//! already copied (skipped) and how long it took, then each failed link
//! with what to do about it.

use crate::output::{Escaped, outln};
use bridge_core::{
    MappingStore,
    backfill::{BackfillError, JobOutcome},
};

/// `1h02m`, `3m05s`, `12.4s`.
fn took(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Prints the report of `outcomes` and returns how many jobs did not finish.
///
/// Counts come from the store's copy rows, so they include earlier runs and are right whatever
/// stopped this one.
///
/// # Errors
/// When the store cannot be read.
pub async fn print(store: &MappingStore, outcomes: &[JobOutcome]) -> anyhow::Result<usize> {
    let mut sorted: Vec<&JobOutcome> = outcomes.iter().collect();
    sorted.sort_by(|a, b| (&a.link, &a.to).cmp(&(&b.link, &b.to)));
    outln!()?;
    let width = sorted
        .iter()
        .map(|o| o.link.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    outln!(
        "{:<width$} {:<40} {:>8} {:>8} {:>8} {:>8} {:>9}  state",
        "link",
        "target",
        "copied",
        "skipped",
        "rejected",
        "degraded",
        "time"
    )?;
    let mut failed = Vec::new();
    for o in &sorted {
        let (copied, rejected) = store.copy_counts(&o.from, &o.to).await?;
        let degraded = store.degraded_count(&o.from, &o.to).await?;
        // Skipped: found already copied by an earlier run (this run's count).
        let skipped = o.result.as_ref().map_or(0, |s| s.skipped);
        let state = match &o.result {
            Ok(_) => "done",
            Err(BackfillError::Cancelled) => "stopped",
            Err(_) => "FAILED",
        };
        if o.result.is_err() {
            failed.push(*o);
        }
        outln!(
            "{:<width$} {:<40} {:>8} {:>8} {:>8} {:>8} {:>9}  {state}",
            Escaped(&o.link),
            Escaped(&o.to),
            copied,
            skipped,
            rejected,
            degraded,
            took(o.took)
        )?;
    }
    for o in &failed {
        if let Err(e) = &o.result {
            outln!(
                "\n{} → {}: {}",
                Escaped(&o.link),
                Escaped(&o.to),
                Escaped(bridge_core::Report::new(e))
            )?;
            outln!("  what to do: {}", e.advice())?;
        }
    }
    if !failed.is_empty() {
        outln!(
            "\n{} of {} job(s) did not finish (above); running the backfill again resumes them \
             without duplicates.",
            failed.len(),
            outcomes.len()
        )?;
    }
    Ok(failed.len())
}
