//! `kbbridge verify`: proof that a migration is complete. Each backfilled target chat is read
//! back and compared with the export and the mapping store (`bridge_core::verify`): every
//! message present once, in order, not deleted or edited by hand; what was left out on purpose
//! (rejected by the target, a file replaced by a note) counted apart. Exit 0 only when every
//! link passes.

use std::{collections::BTreeMap, process::ExitCode};

use bridge_config::Config;
use bridge_core::{ChatRef, Platform, Report, Sink, verify::verify};

use crate::{
    cli::LinkFilter,
    output::{Escaped, outln},
    wiring,
};

/// How many findings are printed per link before "and N more".
const SHOWN: usize = 50;

/// Verifies every selected backfill link.
///
/// # Errors
/// When nothing could start (export, database, a sink); a link that cannot be read back is
/// reported and counted as failed.
pub async fn run(config: &Config, filter: &LinkFilter) -> anyhow::Result<ExitCode> {
    let links: Vec<_> = wiring::select_links(config, &filter.links)?
        .into_iter()
        .filter(|l| l.mode.backfills())
        .collect();
    if links.is_empty() {
        outln!("no link has a backfill to verify (mode = \"backfill\" or \"both\")")?;
        return Ok(ExitCode::SUCCESS);
    }
    let export = wiring::open_export(config)?;
    let store = wiring::open_store(config).await?;
    let totals = store.copy_totals().await?;
    let mut sinks: BTreeMap<Platform, std::sync::Arc<dyn Sink>> = BTreeMap::new();
    let (mut passed, mut failed) = (0, 0);
    for link in &links {
        for target in &link.targets {
            // The chat copied into: "auto" and aliases resolve to what the backfill recorded.
            let copied: Vec<&ChatRef> = totals
                .iter()
                .filter(|t| t.from == link.source && t.to.platform == target.platform)
                .map(|t| &t.to)
                .collect();
            let Some(to) = copied.first() else {
                failed += 1;
                outln!(
                    "{} → {}: FAILED: nothing copied yet; run `kbbridge backfill`",
                    Escaped(&link.name),
                    Escaped(target)
                )?;
                continue;
            };
            let sink = match sinks.get(&target.platform) {
                Some(s) => std::sync::Arc::clone(s),
                None => {
                    let s = wiring::sink_for(config, target.platform, &store)?;
                    sinks.insert(target.platform, std::sync::Arc::clone(&s));
                    s
                }
            };
            match verify(&store, export.as_ref(), &link.source, sink.as_ref(), to).await {
                Ok(v) => {
                    let counts = format!(
                        "{} message(s), {} part(s) in place, {} rejected, {} with a note for a file",
                        v.messages, v.parts_ok, v.rejected, v.degraded
                    );
                    if v.passed() {
                        passed += 1;
                        outln!("{} → {}: ok: {counts}", Escaped(&link.name), Escaped(to))?;
                    } else {
                        failed += 1;
                        outln!(
                            "{} → {}: FAILED: {} problem(s); {counts}",
                            Escaped(&link.name),
                            Escaped(to),
                            v.findings.len()
                        )?;
                        for f in v.findings.iter().take(SHOWN) {
                            outln!("  {}", Escaped(f))?;
                        }
                        if v.findings.len() > SHOWN {
                            outln!("  … and {} more", v.findings.len() - SHOWN)?;
                        }
                    }
                }
                Err(e) => {
                    failed += 1;
                    outln!(
                        "{} → {}: FAILED: {}",
                        Escaped(&link.name),
                        Escaped(to),
                        Escaped(Report::new(&e))
                    )?;
                }
            }
        }
    }
    store.close().await;
    outln!("{passed} target chat(s) verified, {failed} with problems")?;
    if failed > 0 {
        outln!(
            "what to do: `kbbridge backfill` copies what is missing or was interrupted; a copy \
             deleted, duplicated or edited on the target by hand is fixed there"
        )?;
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
