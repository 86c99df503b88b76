//! `kbbridge backfill`: replay the export into every selected link's targets.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::{
    MappingStore, Report,
    backfill::{Backfill, BackfillError, JobOutcome},
    links::Link,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{cli::LinkFilter, commands::report, logging::Display, progress, wiring};

/// Runs the backfill of every selected link, showing progress, and reports each job's end.
///
/// # Errors
/// When nothing could start (config, export, database, a sink that cannot be built).
pub async fn run(
    config: &Config,
    filter: &LinkFilter,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &filter.links)?;
    let store = wiring::open_store(config).await?;
    let Some(outcomes) = backfill_links(config, &links, &store, display, shutdown).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let failed = report::print(&store, &outcomes).await?;
    store.close().await;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Backfills the links of `links` that backfill, showing progress, and logs each job's end;
/// `None` when none of them backfills. The caller prints the report.
///
/// # Errors
/// When nothing could start (export, a sink that cannot be built).
pub(crate) async fn backfill_links(
    config: &Config,
    links: &[&Link],
    store: &MappingStore,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<Vec<JobOutcome>>> {
    let jobs = wiring::backfill_jobs(config, links, store)?;
    if jobs.is_empty() {
        info!("no link has a backfill to do (mode = \"backfill\" or \"both\")");
        return Ok(None);
    }
    // Every job's messages, for the bar of the whole migration.
    let mut total = Some(0u64);
    for job in &jobs {
        let count = job.source.count(&job.from.chat).await.ok().flatten();
        total = total.zip(count).map(|(t, c)| t + c);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let shown = tokio::spawn(progress::show(display, total, rx));
    let engine = Backfill::new(store.clone(), config.backfill.clone()).with_progress(tx);
    let outcomes = engine.run(jobs, &shutdown).await;
    drop(engine);
    let _ = shown.await;
    for o in &outcomes {
        log_outcome(o);
    }
    Ok(Some(outcomes))
}

fn log_outcome(o: &JobOutcome) {
    match &o.result {
        Ok(s) => info!(link = %o.link, to = %o.to, copied = s.copied, rejected = s.rejected,
            degraded = s.degraded, parts_sent = s.parts_sent, reconciled = s.reconciled,
            "job complete"),
        Err(BackfillError::Cancelled) => {
            warn!(link = %o.link, to = %o.to, "stopped; run the backfill again to resume");
        }
        Err(e) => {
            error!(link = %o.link, to = %o.to, error = %Report::new(e), next = e.advice(),
                "job failed");
        }
    }
    if o.result.as_ref().is_ok_and(|s| s.rejected > 0) {
        warn!(link = %o.link, to = %o.to, "some messages were rejected: see `kbbridge status`");
    }
    if let Some(s) = o.result.as_ref().ok().filter(|s| s.degraded > 0) {
        warn!(link = %o.link, to = %o.to, degraded = s.degraded,
            "some messages were copied without some attachments (a note in each copy says \
             which and why): see `kbbridge status`");
    }
}
