//! `kbbridge plan`: what a backfill would do, without sending anything.

use std::{collections::BTreeMap, process::ExitCode, time::Duration};

use anyhow::Context;
use bridge_config::Config;
use bridge_core::{HistorySource, Platform};

use crate::{
    cli::LinkFilter,
    output::{Escaped, out, outln},
    wiring,
};

/// Prints, per link and target: messages in the source, already copied, left, and the time
/// the configured rates give for what is left.
///
/// # Errors
/// When the export or the database cannot be opened.
pub async fn run(config: &Config, filter: &LinkFilter) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &filter.links)?;
    let links: Vec<_> = links.into_iter().filter(|l| l.mode.backfills()).collect();
    if links.is_empty() {
        outln!("no link has a backfill to do (mode = \"backfill\" or \"both\")")?;
        return Ok(ExitCode::SUCCESS);
    }
    let export = wiring::open_export(config)?;
    let store = wiring::open_store(config).await?;

    // Names expanded from a pattern (`acme/acme#general`) are long: the column fits them.
    let width = links
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    outln!(
        "{:<width$} {:<22} {:>8}  {:<28} {:>8} {:>9} {:>10}",
        "link",
        "source",
        "messages",
        "target",
        "copied",
        "left",
        "est. time"
    )?;
    // Counted from the copy rows, so a run stopped anywhere shows what it did. A target's chat
    // ID may differ from the file's ("auto", a Matrix alias): a link has one target per
    // platform, so the rows from this link's source to that platform are its own.
    let totals = store.copy_totals().await?;
    let mut left_per_platform: BTreeMap<Platform, u64> = BTreeMap::new();
    let mut total_left = 0;
    for link in &links {
        let count = export
            .count(&link.source.chat)
            .await
            .with_context(|| format!("link {:?}", link.name))?
            .unwrap_or(0);
        for target in &link.targets {
            let done: u64 = totals
                .iter()
                .filter(|t| t.from == link.source && t.to.platform == target.platform)
                .map(|t| t.copied + t.rejected)
                .sum();
            let left = count.saturating_sub(done);
            *left_per_platform.entry(target.platform).or_default() += left;
            total_left += left;
            outln!(
                "{:<width$} {:<22} {:>8}  {:<28} {:>8} {:>9} {:>10}",
                Escaped(&link.name),
                Escaped(&link.source.chat),
                count,
                Escaped(target),
                done,
                left,
                estimate(config, target.platform, left),
            )?;
        }
    }
    // Each platform's pace is shared by all links writing to it, and platforms run side by
    // side, so the whole backfill takes about as long as the slowest platform's share.
    let jobs: usize = links.iter().map(|l| l.targets.len()).sum();
    out!("\n{jobs} job(s), {total_left} message(s) to copy")?;
    let (paced, unpaced): (Vec<_>, Vec<_>) = left_per_platform
        .iter()
        .map(|(p, left)| (*p, estimate_secs(config, *p, *left)))
        .partition(|(_, secs)| secs.is_finite());
    let slowest = paced.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
    match slowest {
        Some((p, secs)) => out!(
            "; about {} at the configured rates (slowest: {p})",
            human(Duration::from_secs_f64(secs))
        )?,
        None => out!("; no rate is configured for these targets")?,
    }
    if !unpaced.is_empty() {
        let names: Vec<&str> = unpaced.iter().map(|(p, _)| p.as_str()).collect();
        out!(
            "; {} paced by the target's own limits (set [backfill.rate.<platform>] for an \
             estimate)",
            names.join(", ")
        )?;
    }
    outln!()?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn estimate_secs(config: &Config, platform: Platform, messages: u64) -> f64 {
    match config.backfill.rates.get(&platform) {
        Some(rate) if rate.per_second > 0.0 => messages as f64 / rate.per_second,
        _ => f64::NAN,
    }
}

fn estimate(config: &Config, platform: Platform, messages: u64) -> String {
    let secs = estimate_secs(config, platform, messages);
    if secs.is_finite() {
        human(Duration::from_secs_f64(secs))
    } else {
        "no rate set".into()
    }
}

/// `1h 02m`, `3m 20s`, `12.5s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(3725)), "1h 02m");
        assert_eq!(human(Duration::from_secs(200)), "3m 20s");
        assert_eq!(human(Duration::from_millis(12_500)), "12.5s");
    }
}
