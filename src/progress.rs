//! Shows backfill progress: a bar per job on a terminal, periodic log lines otherwise.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bridge_core::backfill::{MessageOutcome, ProgressEvent, ProgressKind};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tracing::info;

use crate::logging::Display;

/// How often a non-interactive run logs each job's progress.
const LOG_EVERY: Duration = Duration::from_secs(10);

struct JobView {
    bar: ProgressBar,
    last_log: Instant,
}

/// Consumes progress events until every sender is gone. `total`: the messages of every job,
/// for the bar of the whole migration above the jobs' (all links, total, rate, ETA).
pub async fn show(
    display: Display,
    total: Option<u64>,
    mut rx: mpsc::UnboundedReceiver<ProgressEvent>,
) {
    let style = ProgressStyle::with_template(
        "{prefix:<28!} [{bar:30}] {pos:>7}/{len:7} {per_sec:>9} eta {eta:<5} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let all = display.bars.add(ProgressBar::no_length());
    all.set_style(style.clone());
    all.set_prefix("all links");
    if let Some(t) = total {
        all.set_length(t);
    }
    let mut all_logged = Instant::now();
    let mut jobs: HashMap<(String, String), JobView> = HashMap::new();
    while let Some(ev) = rx.recv().await {
        // A link has at most one target per platform; the chat may change from "auto" to the
        // one set up for it while the job runs.
        let key = (ev.link.to_string(), ev.to.platform.to_string());
        let view = jobs.entry(key).or_insert_with(|| {
            let bar = display.bars.add(ProgressBar::no_length());
            bar.set_style(style.clone());
            bar.set_prefix(format!("{} → {}", ev.link, ev.to.platform));
            JobView {
                bar,
                last_log: Instant::now(),
            }
        });
        match ev.kind {
            ProgressKind::Started { total, done } => {
                if let Some(t) = total {
                    view.bar.set_length(t);
                }
                view.bar.set_position(done);
                view.bar.reset_eta();
                all.inc(done);
                all.reset_eta();
            }
            ProgressKind::Message { outcome, .. } => {
                if outcome != MessageOutcome::Skipped {
                    view.bar.inc(1);
                    all.inc(1);
                }
                if !display.interactive && all_logged.elapsed() >= LOG_EVERY {
                    all_logged = Instant::now();
                    let left = all.length().unwrap_or(0).saturating_sub(all.position());
                    let rate = all.per_sec();
                    let eta = (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate));
                    info!(done = all.position(), total = all.length().unwrap_or(0),
                        per_sec = format!("{rate:.1}"), eta = ?eta, "migration progress");
                }
                if let MessageOutcome::Rejected(_) = outcome {
                    view.bar.set_message("some rejected: see `kbbridge status`");
                }
                if !display.interactive && view.last_log.elapsed() >= LOG_EVERY {
                    view.last_log = Instant::now();
                    info!(link = %ev.link, to = %ev.to, done = view.bar.position(),
                        total = view.bar.length().unwrap_or(0),
                        per_sec = format!("{:.1}", view.bar.per_sec()), "backfill progress");
                }
            }
            ProgressKind::Retrying { delay, .. } => {
                view.bar
                    .set_message(format!("waiting {delay:?} (rate limit or error)"));
            }
            ProgressKind::Waiting { holder, until } => view.bar.set_message(format!(
                "waiting for {holder} (lease until {} UTC)",
                until.format("%H:%M:%S")
            )),
            ProgressKind::Finished(_) => {
                view.bar.finish_with_message("done");
                if all.length().is_some_and(|l| all.position() >= l) {
                    all.finish_with_message("done");
                }
            }
            ProgressKind::Failed(e) => view.bar.abandon_with_message(format!("stopped: {e}")),
        }
    }
}
