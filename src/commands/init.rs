//! `kbbridge init EXPORT --discord GUILD | --matrix SERVER`: a commented mapping file for
//! everything in an export, one pattern link per team (its subteams included) and one for the
//! direct conversations, secrets left to the environment. From an export to `plan` in two
//! commands.

use std::{
    collections::BTreeMap, fmt::Write as _, fs::OpenOptions, io::Write as _, path::Path,
    process::ExitCode,
};

use adapter_keybase::{
    ChatSummary, KeybaseExport,
    config::{DIRECT_PATTERN, is_direct},
};
use anyhow::{Context, bail};

use crate::{
    cli::InitArgs,
    output::{Escaped, outln},
};

/// How many chat names a link's comment lists before "and N more".
const LISTED: usize = 6;

/// Writes the mapping file to `out` (never over an existing file).
///
/// # Errors
/// When the export cannot be read, has no chat, or `out` exists or cannot be written.
pub fn run(out: &Path, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let export_path = std::path::absolute(&args.export)
        .with_context(|| format!("cannot resolve {}", args.export.display()))?;
    let export = KeybaseExport::open(&export_path)
        .with_context(|| format!("cannot read the Keybase export {}", export_path.display()))?;
    if export.chats().is_empty() {
        bail!(
            "the export {} holds no chat to migrate",
            export_path.display()
        );
    }
    let text = mapping_file(&export_path, &export, args)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} exists already; move it away or name another file with --config",
                out.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot write {}", out.display())),
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    let config = shown(out);
    outln!("wrote {}", Escaped(out.display()))?;
    let secrets = if args.discord.is_some() {
        "KBBRIDGE__DISCORD__TOKEN"
    } else {
        "KBBRIDGE__MATRIX__AS_TOKEN and KBBRIDGE__MATRIX__HS_TOKEN"
    };
    outln!("next: set {secrets} in the environment, then")?;
    outln!("  kbbridge --config {} check", Escaped(&config))?;
    outln!("  kbbridge --config {} plan", Escaped(&config))?;
    outln!("  kbbridge --config {} backfill", Escaped(&config))?;
    Ok(ExitCode::SUCCESS)
}

/// `path` as the next commands should name it.
fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The chats of `export` by top-level team; the direct conversations apart.
fn by_team(export: &KeybaseExport) -> (BTreeMap<String, Vec<&ChatSummary>>, Vec<&ChatSummary>) {
    let mut teams: BTreeMap<String, Vec<&ChatSummary>> = BTreeMap::new();
    let mut direct = Vec::new();
    for chat in export.chats() {
        let name = chat.chat.as_str();
        if is_direct(name) {
            direct.push(chat);
        } else if let Some((team, _)) = name.split_once('#') {
            let top = team.split('.').next().unwrap_or(team);
            teams.entry(top.to_owned()).or_default().push(chat);
        }
    }
    (teams, direct)
}

/// `acme#general, acme#random and 3 more (120 messages)`.
fn listed(chats: &[&ChatSummary]) -> String {
    let names: Vec<&str> = chats.iter().map(|c| c.chat.as_str()).take(LISTED).collect();
    let more = chats.len().saturating_sub(LISTED);
    let mut text = names.join(", ");
    if more > 0 {
        write!(text, " and {more} more").ok();
    }
    let messages: u64 = chats.iter().map(|c| c.messages).sum();
    write!(text, " ({messages} messages)").ok();
    text
}

/// A link name from a team name: the TOML key stays simple.
fn link_name(team: &str) -> String {
    team.replace('.', "-")
}

fn mapping_file(
    export_path: &Path,
    export: &KeybaseExport,
    args: &InitArgs,
) -> anyhow::Result<String> {
    let (teams, direct) = by_team(export);
    let (platform, key) = match (&args.discord, &args.matrix) {
        (Some(_), _) => ("Discord", "discord"),
        _ => ("Matrix", "matrix"),
    };
    let mut t = String::new();
    writeln!(
        t,
        "# kbbridge mapping file, written by `kbbridge init` for a migration to {platform}."
    )?;
    writeln!(
        t,
        "# The export holds {} chat(s): {} team(s) and {} direct conversation(s).",
        export.chats().len(),
        teams.len(),
        direct.len()
    )?;
    writeln!(
        t,
        "# `kbbridge check` tests every setting below; `kbbridge plan` shows what will be copied."
    )?;
    writeln!(t)?;
    writeln!(t, "[database]")?;
    writeln!(
        t,
        "# Keep this file: it records what was copied, so a re-run sends only what is missing."
    )?;
    writeln!(t, "url = \"sqlite://kbbridge.db\"")?;
    writeln!(t)?;
    writeln!(t, "[keybase]")?;
    writeln!(
        t,
        "export = {}",
        toml_string(&export_path.to_string_lossy())
    )?;
    writeln!(t)?;
    match (&args.discord, &args.matrix) {
        (Some(guild), _) => {
            writeln!(t, "[discord]")?;
            writeln!(
                t,
                "# The bot token is never written here: set KBBRIDGE__DISCORD__TOKEN in the \
                 environment."
            )?;
            writeln!(
                t,
                "# The bot needs Manage Channels and Manage Webhooks on the server."
            )?;
            writeln!(t, "guild_id = {}", toml_string(guild))?;
        }
        (None, Some(server)) => {
            let homeserver = args
                .homeserver
                .clone()
                .unwrap_or_else(|| format!("https://{server}"));
            writeln!(t, "[matrix]")?;
            writeln!(
                t,
                "# The appservice tokens are never written here: set KBBRIDGE__MATRIX__AS_TOKEN and"
            )?;
            writeln!(
                t,
                "# KBBRIDGE__MATRIX__HS_TOKEN in the environment; `kbbridge matrix-registration` \
                 prints the"
            )?;
            writeln!(
                t,
                "# registration to give the homeserver, with the same tokens."
            )?;
            writeln!(t, "homeserver = {}", toml_string(&homeserver))?;
            writeln!(t, "server_name = {}", toml_string(server))?;
        }
        (None, None) => bail!("name the target: --discord GUILD_ID or --matrix SERVER_NAME"),
    }
    writeln!(t)?;
    writeln!(
        t,
        "# One link per team, its subteams included: each channel gets its own {} (\"auto\"),",
        if key == "discord" { "channel" } else { "room" }
    )?;
    writeln!(
        t,
        "# in a {} per team and subteam. To treat one chat differently, add a link naming it",
        if key == "discord" {
            "category"
        } else {
            "space"
        }
    )?;
    writeln!(
        t,
        "# (keybase = \"acme#random\") with its own target or mode; mode = \"skip\" leaves it out."
    )?;
    writeln!(
        t,
        "# mode: \"backfill\" copies the history once; \"relay\" keeps the chats in step; \"both\"."
    )?;
    let mut names = std::collections::BTreeSet::new();
    for (team, chats) in &teams {
        let name = link_name(team);
        names.insert(name.clone());
        writeln!(t)?;
        writeln!(t, "# {}", listed(chats))?;
        writeln!(t, "[[link]]")?;
        writeln!(t, "name = {}", toml_string(&name))?;
        writeln!(t, "keybase = {}", toml_string(&format!("{team}#*")))?;
        writeln!(t, "{key} = \"auto\"")?;
        writeln!(t, "mode = {}", toml_string(&args.mode))?;
    }
    if !direct.is_empty() {
        let mut name = "direct".to_owned();
        while names.contains(&name) {
            name.push('_');
        }
        writeln!(t)?;
        writeln!(
            t,
            "# Direct and group conversations, each in a private {} of its members: {}",
            if key == "discord" { "channel" } else { "room" },
            listed(&direct)
        )?;
        writeln!(t, "[[link]]")?;
        writeln!(t, "name = {}", toml_string(&name))?;
        writeln!(t, "keybase = {}", toml_string(DIRECT_PATTERN))?;
        writeln!(t, "{key} = \"auto\"")?;
        writeln!(t, "mode = {}", toml_string(&args.mode))?;
    }
    Ok(t)
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    // JSON string escapes are valid TOML basic-string escapes.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_what_toml_needs() {
        assert_eq!(toml_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(toml_string("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn link_names_avoid_dots() {
        assert_eq!(link_name("acme"), "acme");
        assert_eq!(link_name("acme.ops"), "acme-ops");
    }
}
