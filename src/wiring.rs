//! Config → store, export, sinks and backfill jobs.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use adapter_keybase::KeybaseExport;
use anyhow::{Context, bail};
use bridge_config::Config;
use bridge_core::{
    ChatRef, MappingStore, Platform, Sink,
    backfill::{BackfillJob, Target},
    links::Link,
};
use tracing::info;

/// Loads and validates the mapping file.
///
/// # Errors
/// Every problem in the file, each with its TOML key path.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(bridge_config::load(path)?)
}

/// The secrets a command that only reads the database can go without, with their variables.
const SECRETS: [(&str, &str); 4] = [
    ("discord.token", "KBBRIDGE__DISCORD__TOKEN"),
    ("matrix.as_token", "KBBRIDGE__MATRIX__AS_TOKEN"),
    ("matrix.hs_token", "KBBRIDGE__MATRIX__HS_TOKEN"),
    ("admin.token", "KBBRIDGE__ADMIN__TOKEN"),
];

/// Loads the mapping file for a command that reads only the database and the export
/// (`status`): missing platform secrets are not a problem for it. Any other problem is.
///
/// # Errors
/// Every problem in the file but missing secrets, each with its TOML key path.
pub fn load_config_without_secrets(path: &Path) -> anyhow::Result<Config> {
    let error = match bridge_config::load(path) {
        Ok(config) => return Ok(config),
        Err(e) => e,
    };
    let problems = error.problems();
    let is_secret = |key: &str| SECRETS.iter().any(|(k, _)| *k == key);
    if problems.is_empty() || !problems.iter().all(|p| is_secret(&p.path)) {
        return Err(anyhow::anyhow!("{error}"));
    }
    // Stand-ins that no sink will see: this command builds none.
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.to_ascii_uppercase().starts_with("KBBRIDGE__"))
        .collect();
    env.extend(
        SECRETS
            .iter()
            .filter(|(key, _)| problems.iter().any(|p| p.path == *key))
            .map(|(_, var)| ((*var).to_owned(), "not-needed-by-this-command".to_owned())),
    );
    bridge_config::load_with_env(path, env).map_err(|e| anyhow::anyhow!("{e}"))
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

/// The links named in `names` (all links when empty), in file order. A pattern link's name
/// selects every link it was expanded into.
///
/// # Errors
/// When a name matches no link; the message lists the names that exist.
pub fn select_links<'a>(config: &'a Config, names: &[String]) -> anyhow::Result<Vec<&'a Link>> {
    if names.is_empty() {
        return Ok(config.links.iter().map(|l| &l.link).collect());
    }
    for n in names {
        if !config.links.iter().any(|l| l.is_named(n)) {
            let mut known: Vec<&str> = config
                .links
                .iter()
                .flat_map(|l| std::iter::once(l.name()).chain(l.group.as_deref()))
                .collect();
            known.dedup();
            bail!(
                "no link is named {n:?}; the mapping file has: {}",
                known.join(", ")
            );
        }
    }
    Ok(config
        .links
        .iter()
        .filter(|l| names.iter().any(|n| l.is_named(n)))
        .map(|l| &l.link)
        .collect())
}

/// The platforms the links write to, each once.
pub fn target_platforms(links: &[&Link]) -> BTreeSet<Platform> {
    links
        .iter()
        .flat_map(|l| l.targets.iter().map(|t| t.platform))
        .collect()
}

/// Opens the Keybase export the config names (once per process: pattern expansion and the
/// backfill share it).
///
/// # Errors
/// When `[keybase] export` is missing or the export cannot be read.
pub fn open_export(config: &Config) -> anyhow::Result<Arc<KeybaseExport>> {
    static OPENED: Mutex<Vec<(PathBuf, Arc<KeybaseExport>)>> = Mutex::new(Vec::new());
    let path = config
        .keybase
        .as_ref()
        .and_then(|k| k.export.as_ref())
        .context("backfill links need `keybase.export` (the export file or folder)")?;
    let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, export)) = opened.iter().find(|(p, _)| p == path) {
        return Ok(Arc::clone(export));
    }
    let export = KeybaseExport::open(path)
        .with_context(|| format!("cannot read the Keybase export {}", path.display()))?;
    info!(export = %path.display(), "keybase export open");
    let export = Arc::new(export);
    opened.push((path.clone(), Arc::clone(&export)));
    Ok(export)
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

// --- end Matrix ---------------------------------------------------------------------------

/// The Discord sink, from `[discord]` (issue 5; how the tests point it at the Discord stand-in,
/// with `connect_to` and `ca_file`, is in `tests/standins/discord/STANDIN.md`).
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

/// A link's target as the engine takes it: "auto" is made (or found) by the sink during the
/// job's setup; a named chat is checked there.
pub fn job_target(target: &ChatRef) -> Target {
    if target.chat.as_str() == bridge_config::AUTO {
        Target::Auto(target.platform)
    } else {
        Target::Named(target.clone())
    }
}

/// One backfill job per (backfill link, target), sinks built once per platform. Target chats
/// are resolved by each job (retried, one link's failure not stopping the others).
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
                to: job_target(target),
            });
        }
    }
    Ok(jobs)
}
