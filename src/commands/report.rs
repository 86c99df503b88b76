//! The report a backfill ends with: one line per job with its counts from the store (copied,
//! rejected, degraded: copied with a note in place of some attachments), then each failed link
//! with what to do about it.

use crate::output::{Escaped, outln};
use bridge_core::{
    MappingStore,
    backfill::{BackfillError, JobOutcome},
};

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
    outln!(
        "{:<20} {:<40} {:>8} {:>8}  state",
        "link",
        "target",
        "copied",
        "rejected"
    )?;
    let mut failed = Vec::new();
    for o in &sorted {
        let (copied, rejected) = store.copy_counts(&o.from, &o.to).await?;
        let degraded = store.degraded_count(&o.from, &o.to).await?;
        let state = match &o.result {
            Ok(_) => "done",
            Err(BackfillError::Cancelled) => "stopped",
            Err(_) => "FAILED",
        };
        if o.result.is_err() {
            failed.push(*o);
        }
        outln!(
            "{:<20} {:<40} {:>8} {:>8} {:>8}  {state}",
            Escaped(&o.link),
            Escaped(&o.to),
            copied,
            rejected,
            degraded
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
