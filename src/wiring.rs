//! Config → store, export, sinks and backfill jobs.

use std::{collections::BTreeSet, path::Path, sync::Arc};

use adapter_keybase::KeybaseExport;
use anyhow::{Context, bail};
use bridge_config::Config;
use bridge_core::{
    MappingStore, Platform, Sink,
    backfill::BackfillJob,
    links::Link,
};

/// Loads and validates the mapping file.
///
/// # Errors
/// Every problem in the file, each with its TOML key path.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    bridge_config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The database URL with any password removed, for messages.
pub fn redacted_db(config: &Config) -> String {
    match url::Url::parse(&config.database_url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => config.database_url.clone(),
    }
}

/// Opens (creating on first use) the mapping store.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open_store(config: &Config) -> anyhow::Result<MappingStore> {
    MappingStore::open(&config.database_url)
        .await
        .with_context(|| format!("cannot use the database; check `database.url` in {}", config.path.display()))
}

/// The links named in `names` (all links when empty), in file order.
///
/// # Errors
/// When a name matches no link; the message lists the names that exist.
pub fn select_links<'a>(config: &'a Config, names: &[String]) -> anyhow::Result<Vec<&'a Link>> {
    let all: Vec<&Link> = config.links.iter().map(|l| &l.link).collect();
    if names.is_empty() {
        return Ok(all);
    }
    for n in names {
        if !all.iter().any(|l| &l.name == n) {
            let known: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
            bail!("no link is named {n:?}; the mapping file has: {}", known.join(", "));
        }
    }
    Ok(all.into_iter().filter(|l| names.contains(&l.name)).collect())
}

/// The platforms the links write to, each once.
pub fn target_platforms(links: &[&Link]) -> BTreeSet<Platform> {
    links.iter().flat_map(|l| l.targets.iter().map(|t| t.platform)).collect()
}

/// Opens the Keybase export the config names.
///
/// # Errors
/// When `[keybase] export` is missing or the export cannot be read.
pub fn open_export(config: &Config) -> anyhow::Result<Arc<KeybaseExport>> {
    let path = config
        .keybase
        .as_ref()
        .and_then(|k| k.export.as_ref())
        .context("backfill links need `keybase.export` (the export file or folder)")?;
    let export = KeybaseExport::open(path)
        .with_context(|| format!("cannot read the Keybase export {}", path.display()))?;
    Ok(Arc::new(export))
}

/// Builds the sink for `platform`.
///
/// # Errors
/// Always, for now: the Discord and Matrix sinks arrive in their own issues.
pub fn sink_for(_config: &Config, platform: Platform) -> anyhow::Result<Arc<dyn Sink>> {
    bail!(
        "writing to {platform} is not available in this version of kbbridge yet; \
         `kbbridge plan` shows what the backfill will do"
    )
}

/// One backfill job per (backfill link, target), sinks built once per platform.
///
/// # Errors
/// When the export cannot be opened or a sink cannot be built.
pub fn backfill_jobs(config: &Config, links: &[&Link]) -> anyhow::Result<Vec<BackfillJob>> {
    let links: Vec<&&Link> = links.iter().filter(|l| l.mode.backfills()).collect();
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let export = open_export(config)?;
    let mut sinks = std::collections::BTreeMap::new();
    let mut jobs = Vec::new();
    for link in links {
        for target in &link.targets {
            let sink = match sinks.get(&target.platform) {
                Some(s) => Arc::clone(s),
                None => {
                    let s = sink_for(config, target.platform)?;
                    sinks.insert(target.platform, Arc::clone(&s));
                    s
                }
            };
            jobs.push(BackfillJob {
                link: link.name.as_str().into(),
                source: export.clone(),
                from: link.source.clone(),
                sink,
                to: target.clone(),
            });
        }
    }
    Ok(jobs)
}
