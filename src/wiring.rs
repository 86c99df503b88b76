//! Config → store, export, sinks and backfill jobs.

use std::{collections::BTreeSet, path::Path, sync::Arc};

use adapter_keybase::KeybaseExport;
use anyhow::{Context, bail};
use bridge_config::Config;
use bridge_core::{MappingStore, Platform, Sink, backfill::BackfillJob, links::Link};
use tracing::info;

/// Loads and validates the mapping file.
///
/// # Errors
/// Every problem in the file, each with its TOML key path.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(bridge_config::load(path)?)
}

/// The database URL with any password removed, for messages.
pub fn redacted_db(config: &Config) -> String {
    bridge_core::store::redact_url(&config.database_url)
}

/// Opens (creating on first use) the mapping store.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open_store(config: &Config) -> anyhow::Result<MappingStore> {
    let store = MappingStore::open(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot use the database; check `database.url` in {}",
                config.path.display()
            )
        })?;
    info!(db = %redacted_db(config), backend = ?store.backend(), "database open");
    Ok(store)
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
            bail!(
                "no link is named {n:?}; the mapping file has: {}",
                known.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|l| names.contains(&l.name))
        .collect())
}

/// The platforms the links write to, each once.
pub fn target_platforms(links: &[&Link]) -> BTreeSet<Platform> {
    links
        .iter()
        .flat_map(|l| l.targets.iter().map(|t| t.platform))
        .collect()
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
    info!(export = %path.display(), "keybase export open");
    Ok(Arc::new(export))
}

/// Builds the sink for `platform`.
///
/// # Errors
/// When the platform's section is missing or its sink cannot be built.
pub fn sink_for(
    config: &Config,
    platform: Platform,
    store: &MappingStore,
) -> anyhow::Result<Arc<dyn Sink>> {
    match platform {
        // Each arm belongs to its adapter's issue; keep them independent.
        Platform::Matrix => matrix_sink(config, store),
        Platform::Discord => discord_sink(config, store),
        Platform::Keybase => not_yet(config, platform, store),
    }
}

// --- Matrix (issue 4) ---------------------------------------------------------------------

/// The Matrix appservice sink, from `[matrix]`.
fn matrix_sink(config: &Config, store: &MappingStore) -> anyhow::Result<Arc<dyn Sink>> {
    let matrix = config
        .matrix
        .as_ref()
        .context("Matrix links need a [matrix] section")?;
    let sink = adapter_matrix::MatrixSink::new(matrix, store.clone())
        .context("cannot set up the Matrix sink; check the [matrix] section")?;
    Ok(Arc::new(sink))
}

/// Replaces each job's target by the chat its sink resolves: `"auto"` targets are created (or
/// found from an earlier run), named ones are checked and canonicalised (a Matrix alias becomes
/// its room ID). A sink that cannot resolve chats keeps named targets as written.
///
/// # Errors
/// When a target cannot be created or adopted; the message names the link.
pub async fn resolve_targets(mut jobs: Vec<BackfillJob>) -> anyhow::Result<Vec<BackfillJob>> {
    for job in &mut jobs {
        let requested = (job.to.chat.as_str() != bridge_config::AUTO).then(|| job.to.chat.clone());
        let info = job
            .source
            .chat_info(&job.from.chat)
            .await
            .with_context(|| format!("link {}: cannot read {}", job.link, job.from))?;
        match job.sink.resolve_chat(&info, requested.as_ref()).await {
            Ok(chat) => {
                info!(link = %job.link, from = %job.from, platform = %job.to.platform, chat = %chat,
                    "target resolved");
                job.to.chat = chat;
            }
            Err(bridge_core::AdapterError::Unsupported(_)) if requested.is_some() => {}
            Err(e) => {
                bail!(
                    "link {}: cannot set up its {} chat: {}",
                    job.link,
                    job.to.platform,
                    bridge_core::Report::new(&e)
                )
            }
        }
    }
    Ok(jobs)
}

// --- end Matrix ---------------------------------------------------------------------------

/// The Discord sink, from `[discord]` (issue 5; its test-equipment variables are documented in
/// `adapter-discord/STANDIN.md`).
fn discord_sink(config: &Config, store: &MappingStore) -> anyhow::Result<Arc<dyn Sink>> {
    let section = config
        .discord
        .as_ref()
        .context("links write to Discord but the mapping file has no [discord] section")?;
    let sink = adapter_discord::DiscordSink::new(section, store.clone())
        .context("cannot set up the Discord sink")?;
    Ok(Arc::new(sink))
}

fn not_yet(
    _config: &Config,
    platform: Platform,
    _store: &MappingStore,
) -> anyhow::Result<Arc<dyn Sink>> {
    bail!(
        "writing to {platform} is not available in this version of kbbridge yet; \
         `kbbridge plan` shows what the backfill will do"
    )
}

/// One backfill job per (backfill link, target), sinks built once per platform.
///
/// # Errors
/// When the export cannot be opened or a sink cannot be built.
pub fn backfill_jobs(
    config: &Config,
    links: &[&Link],
    store: &MappingStore,
) -> anyhow::Result<Vec<BackfillJob>> {
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
                    let s = sink_for(config, target.platform, store)?;
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
