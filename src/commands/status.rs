//! `kbbridge status`: what every link has copied, what is interrupted, rejected, degraded or
//! held by a running process, from the database alone.
//!
//! Counts come from the copy rows (one per part, written before and after each send), not from
//! the progress rows a run saves after each page: a run stopped at any point is shown as it
//! is. A link's lease tells whether a process is at work on it now.

use std::{collections::BTreeMap, process::ExitCode};

use bridge_config::Config;
use bridge_core::{
    ChatRef, MappingStore,
    backfill::link_lease_name,
    handoff::lease_kind,
    store::{CopyTotals, LeaseInfo, Progress},
};

use crate::{
    output::{Escaped, outln},
    wiring,
};

/// How many rejected (or degraded) messages to list per job.
const REJECTS_SHOWN: usize = 20;

/// What the store knows of one (source chat, target chat).
#[derive(Default)]
struct Row {
    totals: Option<CopyTotals>,
    progress: Option<Progress>,
}

/// One (source chat, target chat) as `status` shows it (and `/api/v1/status` serves it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct JobStatus {
    /// The source chat (`keybase:acme#general`).
    pub source: String,
    /// The target chat.
    pub target: String,
    /// Messages whose every part is in the target.
    pub copied: u64,
    /// Messages the target refused.
    pub rejected: u64,
    /// Messages copied with a note in place of some file.
    pub degraded: u64,
    /// Messages whose send was interrupted.
    pub pending: u64,
    /// `running` (a process holds its link), `interrupted`, `done` or `partial`.
    pub state: &'static str,
    /// When its backfill last saved its place (UTC, RFC 3339), if it ran.
    pub updated_at: Option<String>,
}

/// A lease held now, as `status` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeldLease {
    /// `link:<source>><platform>`, `setup:<platform>`, `relay:<link>`, or an ingress lease
    /// (`matrix-ingress`, `keybase-listen:<account>`).
    pub name: String,
    /// What it guards: `link`, `ingress`, `writes` or `setup` (`handoff::lease_kind`).
    pub kind: &'static str,
    /// The process holding it.
    pub holder: String,
    /// Until when, unless renewed (UTC, RFC 3339).
    pub expires_at: String,
}

/// Every job's counts and state, and the leases held now, from the store.
///
/// # Errors
/// When the store cannot be read.
pub async fn snapshot(store: &MappingStore) -> anyhow::Result<(Vec<JobStatus>, Vec<HeldLease>)> {
    let (rows, leases) = rows(store).await?;
    let jobs = rows
        .iter()
        .map(|((from, to), row)| {
            let (copied, rejected, pending, degraded) = counts(row);
            JobStatus {
                source: from.to_string(),
                target: to.to_string(),
                copied,
                rejected,
                degraded,
                pending,
                state: state(&leases, from, to, row),
                updated_at: row.progress.as_ref().map(|p| p.updated_at.to_rfc3339()),
            }
        })
        .collect();
    let held = leases
        .values()
        .map(|l| HeldLease {
            name: l.name.clone(),
            kind: lease_kind(&l.name),
            holder: l.holder.clone(),
            expires_at: l.expires_at.to_rfc3339(),
        })
        .collect();
    Ok((jobs, held))
}

/// Every (source, target) the store has rows for, and the active leases by name.
async fn rows(
    store: &MappingStore,
) -> anyhow::Result<(
    BTreeMap<(ChatRef, ChatRef), Row>,
    BTreeMap<String, LeaseInfo>,
)> {
    let mut rows: BTreeMap<(ChatRef, ChatRef), Row> = BTreeMap::new();
    for t in store.copy_totals().await? {
        let key = (t.from.clone(), t.to.clone());
        rows.entry(key).or_default().totals = Some(t);
    }
    for p in store.all_progress().await? {
        let key = (p.from.clone(), p.to.clone());
        rows.entry(key).or_default().progress = Some(p);
    }
    let leases: BTreeMap<String, LeaseInfo> = store
        .leases()
        .await?
        .into_iter()
        .filter(|l| l.active)
        .map(|l| (l.name.clone(), l))
        .collect();
    Ok((rows, leases))
}

/// (copied, rejected, pending, degraded).
fn counts(row: &Row) -> (u64, u64, u64, u64) {
    row.totals.as_ref().map_or((0, 0, 0, 0), |t| {
        (t.copied, t.rejected, t.pending, t.degraded)
    })
}

fn state(
    leases: &BTreeMap<String, LeaseInfo>,
    from: &ChatRef,
    to: &ChatRef,
    row: &Row,
) -> &'static str {
    let held = leases.contains_key(&link_lease_name(from, to.platform));
    let done = row.progress.as_ref().is_some_and(|p| p.done);
    let pending = counts(row).2;
    match (held, pending, done) {
        (true, _, _) => "running",
        (false, 1.., _) => "interrupted",
        (false, 0, true) => "done",
        (false, 0, false) => "partial",
    }
}

/// Prints every job's counts and state, then its rejected messages, then who holds what.
///
/// # Errors
/// When the database cannot be opened or read.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let result = show(&store, config).await;
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn show(store: &MappingStore, config: &Config) -> anyhow::Result<()> {
    let (rows, leases) = rows(store).await?;
    if rows.is_empty() {
        outln!(
            "no backfill has run yet against {}",
            wiring::redacted_db(config)
        )?;
        show_leases(&leases)?;
        return Ok(());
    }

    outln!(
        "{:<22} {:<34} {:>8} {:>8} {:>8} {:>8}  {:<12} updated (UTC)",
        "source",
        "target",
        "copied",
        "rejected",
        "degraded",
        "pending",
        "state"
    )?;
    let mut interrupted = 0;
    for ((from, to), row) in &rows {
        let (copied, rejected, pending, degraded) = counts(row);
        interrupted += pending;
        let state = state(&leases, from, to, row);
        let updated = row.progress.as_ref().map_or_else(
            || "-".to_owned(),
            |p| p.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        outln!(
            "{:<22} {:<34} {:>8} {:>8} {:>8} {:>8}  {:<12} {}",
            Escaped(&from.chat),
            Escaped(to),
            copied,
            rejected,
            degraded,
            pending,
            state,
            updated,
        )?;
    }
    if interrupted > 0 {
        outln!(
            "\n{interrupted} message(s) were being sent when a run stopped; the next run asks the \
             target whether each arrived before sending it again (no duplicate)."
        )?;
    }
    for (from, to) in rows.keys() {
        show_rejected(store, from, to).await?;
    }
    for (from, to) in rows.keys() {
        show_degraded(store, from, to).await?;
    }
    show_leases(&leases)
}

async fn show_rejected(store: &MappingStore, from: &ChatRef, to: &ChatRef) -> anyhow::Result<()> {
    let rejected = store.rejected(from, to).await?;
    if rejected.is_empty() {
        return Ok(());
    }
    outln!("\nrejected by {} ({}):", Escaped(to), rejected.len())?;
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
    Ok(())
}

async fn show_degraded(store: &MappingStore, from: &ChatRef, to: &ChatRef) -> anyhow::Result<()> {
    let degraded = store.degraded(from, to).await?;
    if degraded.is_empty() {
        return Ok(());
    }
    outln!(
        "\ncopied without some attachments into {} ({}):",
        Escaped(to),
        degraded.len()
    )?;
    for d in degraded.iter().take(REJECTS_SHOWN) {
        for note in d.notes.lines() {
            outln!("  {}: {}", Escaped(&d.origin.msg), Escaped(note))?;
        }
    }
    if degraded.len() > REJECTS_SHOWN {
        outln!("  … and {} more", degraded.len() - REJECTS_SHOWN)?;
    }
    Ok(())
}

fn show_leases(leases: &BTreeMap<String, LeaseInfo>) -> anyhow::Result<()> {
    if leases.is_empty() {
        return Ok(());
    }
    outln!("\nheld now:")?;
    for l in leases.values() {
        outln!(
            "  {} {} by {} (since {} UTC, until {} UTC unless renewed)",
            lease_kind(&l.name),
            Escaped(&l.name),
            Escaped(&l.holder),
            l.acquired_at.format("%H:%M:%S"),
            l.expires_at.format("%H:%M:%S")
        )?;
    }
    Ok(())
}
