//! `kbbridge check`: whether a backfill would start. The mapping file is valid (done by
//! loading it), the export is readable with every linked chat in it, the database answers, and
//! each target platform, asked itself, accepts what backfill will do, "auto" targets included
//! (Discord: token, guild, permissions, named channels; Matrix: homeserver, appservice tokens,
//! server name, named rooms). Every problem is reported, not only the first; the exit code is
//! 0 only when there is none.

use std::process::ExitCode;

use bridge_config::Config;
use bridge_core::{
    ChatId, HistorySource, MappingStore, Platform,
    links::Link,
    preflight::{Finding, Report, Verdict},
};

use crate::{
    output::{Escaped, outln},
    patterns::Expanded,
    wiring,
};

/// How long a named Matrix room may take to answer.
const REACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What was printed so far: problems block the backfill, notes do not.
#[derive(Default)]
struct Tally {
    problems: usize,
    notes: usize,
}

impl Tally {
    /// Prints one finding under its platform, `  subject: [problem: |note: ]text`.
    fn print(&mut self, f: &Finding) -> anyhow::Result<()> {
        let subject = f.link.as_deref().unwrap_or(f.check);
        let tag = match f.verdict {
            Verdict::Ok => "",
            Verdict::Note => {
                self.notes += 1;
                "note: "
            }
            Verdict::Problem => {
                self.problems += 1;
                "problem: "
            }
        };
        outln!("  {}: {tag}{}", Escaped(subject), Escaped(&f.text))?;
        Ok(())
    }

    fn report(&mut self, report: &Report) -> anyhow::Result<()> {
        for f in &report.findings {
            self.print(f)?;
        }
        Ok(())
    }

    fn problem(&mut self, subject: &str, text: impl std::fmt::Display) -> anyhow::Result<()> {
        self.problems += 1;
        outln!("  {}: problem: {}", Escaped(subject), Escaped(text))?;
        Ok(())
    }
}

/// `e` and its causes on one line, each cause once, secrets masked.
fn causes(e: &anyhow::Error) -> String {
    bridge_core::Report::new(e.as_ref()).to_string()
}

/// Runs every check and prints what it found.
///
/// # Errors
/// Only when no link matches (never for a failing check: those are printed and counted).
pub async fn run(config: &Config, expanded: &[Expanded]) -> anyhow::Result<ExitCode> {
    let links = wiring::select_links(config, &[])?;
    outln!(
        "{}: {} link(s), mapping file is valid",
        Escaped(config.path.display()),
        links.len()
    )?;
    for e in expanded {
        let names: Vec<&str> = e.chats.iter().map(ChatId::as_str).collect();
        outln!(
            "  {} ({}): {} chat(s): {}",
            Escaped(&e.link),
            Escaped(&e.pattern),
            e.chats.len(),
            Escaped(names.join(", "))
        )?;
    }
    let mut tally = Tally::default();
    check_export(config, &links, &mut tally).await?;
    let store = check_database(config, &mut tally).await?;
    check_keybase_live(config, &links, &mut tally).await?;
    for platform in wiring::target_platforms(&links) {
        outln!("{platform}:")?;
        match platform {
            Platform::Discord => check_discord(config, &links, &mut tally).await?,
            Platform::Matrix => check_matrix(config, &links, store.as_ref(), &mut tally).await?,
            Platform::Keybase => {
                // Writing to Keybase is not available: the sink says so.
                if let Some(store) = &store {
                    if let Err(e) = wiring::sink_for(config, platform, store) {
                        tally.problem("keybase", causes(&e))?;
                    }
                }
            }
        }
    }
    if let Some(store) = store {
        store.close().await;
    }
    if tally.problems > 0 {
        outln!(
            "{} problem(s); fix them and run `kbbridge check` again",
            tally.problems
        )?;
        return Ok(ExitCode::FAILURE);
    }
    match tally.notes {
        0 => outln!("everything checks out")?,
        n => outln!("everything backfill needs checks out ({n} note(s) above)")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// For relaying links: the `keybase` client answers, is logged in (as `keybase.username` when
/// set), and lists every relayed chat.
async fn check_keybase_live(
    config: &Config,
    links: &[&Link],
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let relaying: Vec<&&Link> = links.iter().filter(|l| l.mode.relays()).collect();
    if relaying.is_empty() {
        return Ok(());
    }
    outln!("keybase (live):")?;
    let section = config.keybase.clone().unwrap_or_default();
    let cli = adapter_keybase::cli::KeybaseCli::from_config(&section);
    let me = match adapter_keybase::live::Identity::of(&cli).await {
        Ok(me) => me,
        Err(e) => {
            return tally.problem(
                "client",
                format!(
                    "cannot ask `{} whoami` who is logged in: {}; is the Keybase service \
                     running and logged in? (keybase.binary, keybase.home)",
                    section.binary.display(),
                    bridge_core::Report::new(&e)
                ),
            );
        }
    };
    if let Err(why) = me.expect(section.username.as_deref()) {
        return tally.problem("client", why);
    }
    outln!("  client: logged in as {}", Escaped(&me.username))?;
    let chats: Vec<bridge_core::ChatId> = relaying.iter().map(|l| l.source.chat.clone()).collect();
    let mut api = cli.chat_api();
    let found =
        adapter_keybase::live::find_conversations(&mut api, &chats, &Default::default()).await;
    match found {
        Ok(found) => {
            for link in relaying {
                if let Some(conv) = found.get(&link.source.chat) {
                    outln!(
                        "  {}: {} is conversation {}",
                        Escaped(&link.name),
                        Escaped(&link.source),
                        Escaped(&conv.id)
                    )?;
                }
            }
        }
        Err(e) => tally.problem("chats", bridge_core::Report::new(&e))?,
    }
    Ok(())
}

/// The export opens and has every chat a backfill link copies.
async fn check_export(config: &Config, links: &[&Link], tally: &mut Tally) -> anyhow::Result<()> {
    let backfills: Vec<&&Link> = links.iter().filter(|l| l.mode.backfills()).collect();
    if backfills.is_empty() {
        return Ok(());
    }
    outln!("export:")?;
    let export = match wiring::open_export(config) {
        Ok(export) => export,
        Err(e) => return tally.problem("export", causes(&e)),
    };
    for link in backfills {
        match export.count(&link.source.chat).await {
            Ok(Some(n)) => outln!(
                "  {}: {} has {n} message(s) to copy",
                Escaped(&link.name),
                Escaped(&link.source)
            )?,
            Ok(None) => outln!("  {}: {} found", Escaped(&link.name), Escaped(&link.source))?,
            Err(e) => tally.problem(
                &link.name,
                format!("{}: {}", link.source, bridge_core::Report::new(&e)),
            )?,
        }
    }
    Ok(())
}

/// The database answers (and is migrated): the store, for the checks that need it.
async fn check_database(
    config: &Config,
    tally: &mut Tally,
) -> anyhow::Result<Option<MappingStore>> {
    outln!("database:")?;
    match MappingStore::open(&config.database_url).await {
        Ok(store) => {
            outln!(
                "  {}: reachable ({:?})",
                Escaped(wiring::redacted_db(config)),
                store.backend()
            )?;
            Ok(Some(store))
        }
        Err(e) => {
            tally.problem(
                "database",
                format!(
                    "{}; check `database.url` in {} (or KBBRIDGE__DATABASE__URL)",
                    bridge_core::Report::new(&e),
                    config.path.display()
                ),
            )?;
            Ok(None)
        }
    }
}

/// The links' targets on `platform`: (link, chat) for named ones, and the links whose target
/// is made by the backfill.
fn targets<'a>(
    links: &[&'a Link],
    platform: Platform,
) -> (Vec<(String, bridge_core::ChatId)>, Vec<&'a str>) {
    let mut named = Vec::new();
    let mut auto = Vec::new();
    for link in links {
        if let Some(target) = link.target(platform) {
            if target.chat.as_str() == bridge_config::AUTO {
                auto.push(link.name.as_str());
            } else {
                named.push((link.name.clone(), target.chat.clone()));
            }
        }
    }
    (named, auto)
}

fn print_auto(auto: &[&str], platform: Platform) -> anyhow::Result<()> {
    for link in auto {
        outln!(
            "  {}: the {platform} chat is made on the first backfill",
            Escaped(link)
        )?;
    }
    Ok(())
}

/// Discord, asked by `adapter_discord::preflight`.
async fn check_discord(config: &Config, links: &[&Link], tally: &mut Tally) -> anyhow::Result<()> {
    let Some(section) = config.discord.as_ref() else {
        return tally.problem(
            "discord",
            "links write to Discord but there is no [discord]",
        );
    };
    let (named, auto) = targets(links, Platform::Discord);
    let relays = links.iter().any(|l| l.mode.relays());
    let report = adapter_discord::preflight::preflight(section, &named, auto.len(), relays).await;
    tally.report(&report)?;
    print_auto(&auto, Platform::Discord)
}

/// Matrix, asked by `adapter_matrix::preflight`, then each named room through the sink.
async fn check_matrix(
    config: &Config,
    links: &[&Link],
    store: Option<&MappingStore>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let Some(section) = config.matrix.as_ref() else {
        return tally.problem("matrix", "links write to Matrix but there is no [matrix]");
    };
    let report = adapter_matrix::preflight::preflight(section).await;
    tally.report(&report)?;
    let (named, auto) = targets(links, Platform::Matrix);
    let usable = report
        .get("as_token")
        .is_some_and(|f| f.verdict == Verdict::Ok);
    let mut sink = None;
    for (link, room) in &named {
        if !usable {
            tally.print(&Finding {
                check: "room",
                link: Some(link.clone()),
                verdict: Verdict::Note,
                text: format!("matrix:{room} not checked: the homeserver is not usable (above)"),
            })?;
            continue;
        }
        let Some(store) = store else {
            tally.print(&Finding {
                check: "room",
                link: Some(link.clone()),
                verdict: Verdict::Note,
                text: format!("matrix:{room} not checked: the database is not usable (above)"),
            })?;
            continue;
        };
        let sink = match &mut sink {
            Some(sink) => sink,
            None => match wiring::sink_for(config, Platform::Matrix, store) {
                Ok(made) => sink.insert(made),
                Err(e) => return tally.problem("matrix", causes(&e)),
            },
        };
        match tokio::time::timeout(REACH_TIMEOUT, sink.check(room)).await {
            Ok(Ok(())) => outln!("  {}: matrix:{} is reachable", Escaped(link), Escaped(room))?,
            Ok(Err(e)) => tally.problem(
                link,
                format!("matrix:{room}: {}", bridge_core::Report::new(&e)),
            )?,
            Err(_) => tally.problem(
                link,
                format!("matrix:{room}: no answer in {REACH_TIMEOUT:?}"),
            )?,
        }
    }
    print_auto(&auto, Platform::Matrix)
}
