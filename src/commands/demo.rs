//! `kbbridge demo`: the quickstart in one command. Sets up a local Synapse for the mapping
//! file's `[matrix]` section (with the project's `tests/support/synapse`, registering kbbridge
//! as its appservice), replays the backfill into it, and shows the rooms it made and how to
//! look at them. Running it again sends nothing new.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use adapter_matrix::{MatrixSink, registration::registration_yaml, viewer::RoomView};
use anyhow::{Context, bail};
use bridge_config::Config;
use bridge_core::Platform;
use tokio_util::sync::CancellationToken;

use crate::{
    cli::LinkFilter, commands::backfill, logging::Display, output::outln, private_file, wiring,
};

/// The account made for a person to log in with.
const VIEWER: (&str, &str) = ("demo", "demo");

/// Sets Synapse up, runs the backfill, prints the rooms.
///
/// # Errors
/// When `[matrix]` does not name a homeserver on this machine, or Synapse cannot be set up.
pub async fn run(
    config: &Config,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let matrix = config
        .matrix
        .as_ref()
        .context("the demo needs a [matrix] section")?;
    let homeserver = matrix
        .homeserver
        .as_ref()
        .context("the demo needs matrix.homeserver")?;
    let server_name = matrix
        .server_name
        .as_deref()
        .context("the demo needs matrix.server_name")?;
    let local = matches!(homeserver.host_str(), Some("127.0.0.1" | "localhost"));
    let port = homeserver
        .port_or_known_default()
        .filter(|_| local && homeserver.scheme() == "http");
    let Some(port) = port else {
        bail!(
            "the demo runs its own Synapse: matrix.homeserver must be http://127.0.0.1:PORT, not {homeserver}"
        );
    };

    let dir = repo()
        .join("target")
        .join("synapse")
        .join(format!("demo-{port}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let registration = dir.join("kbbridge-registration.yaml");
    let yaml = registration_yaml(matrix, matrix.as_token.expose(), matrix.hs_token.expose())?;
    // It holds both tokens: readable by this user only.
    private_file::write_private(&registration, yaml.as_bytes())
        .with_context(|| format!("cannot write {}", registration.display()))?;
    outln!(
        "Setting up Synapse at {homeserver} (first run: installs it from PyPI, about a minute)…"
    )?;
    let script = |args: &[&str]| {
        synapse(
            &dir,
            port,
            server_name,
            matrix.bot_localpart.as_str(),
            &registration,
            args,
        )
    };
    script(&["ensure"])?;
    script(&["user", VIEWER.0, VIEWER.1])?;

    let code = backfill::run(config, &LinkFilter::default(), display, shutdown).await?;

    let store = wiring::open_store(config).await?;
    let sink = MatrixSink::new(matrix, store.clone())?;
    let viewer = format!("@{}:{server_name}", VIEWER.0);
    let names: Vec<(String, String)> = config
        .links
        .iter()
        .map(|l| (l.link.source.chat.to_string(), l.link.name.clone()))
        .collect();
    outln!("\nThe rooms kbbridge made (or reused) on {server_name}:")?;
    let mut shown: Vec<String> = Vec::new();
    let mut first_room = None;
    for p in store.all_progress().await? {
        if p.to.platform != Platform::Matrix {
            continue;
        }
        let views = sink.invite_viewer(p.to.chat.as_str(), &viewer).await?;
        for (depth, view) in views.iter().enumerate() {
            if shown.contains(&view.id) {
                continue;
            }
            shown.push(view.id.clone());
            let indent = "  ".repeat(depth + 1);
            if view.space {
                outln!("{indent}space {}", describe(view))?;
            } else {
                let link = names.iter().find(|(chat, _)| *chat == p.from.chat.as_str());
                let link = link.map(|(_, name)| name.as_str()).unwrap_or("?");
                outln!(
                    "{indent}room  {}: link {link:?}, from Keybase {}, {} message(s) copied{}",
                    describe(view),
                    p.from.chat,
                    p.copied,
                    if p.rejected > 0 {
                        format!(", {} rejected", p.rejected)
                    } else {
                        String::new()
                    },
                )?;
                first_room.get_or_insert_with(|| view.id.clone());
            }
        }
    }
    store.close().await;

    outln!("\nTo look at them:")?;
    outln!(
        "  * in any Matrix client (Element, Cinny, …): homeserver {homeserver}, user {:?}, \
         password {:?}; accept the invitations.",
        VIEWER.0,
        VIEWER.1
    )?;
    if let Some(room) = first_room {
        outln!(
            "  * with curl, as the bridge's bot (AS_TOKEN = matrix.as_token of {}):\n      \
             curl -s -H \"Authorization: Bearer $AS_TOKEN\" \
             '{}/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100'",
            config.path.display(),
            homeserver.as_str().trim_end_matches('/'),
            room.replace('!', "%21").replace(':', "%3A"),
        )?;
    }
    outln!(
        "  * Synapse's files and log: {}\nStop it with: SYNAPSE_DIR={} tests/support/synapse stop",
        dir.display(),
        dir.display()
    )?;
    Ok(code)
}

fn describe(view: &RoomView) -> String {
    let name = view.name.as_deref().unwrap_or("(no name)");
    match &view.alias {
        Some(alias) => format!("{name:?} {alias} ({})", view.id),
        None => format!("{name:?} ({})", view.id),
    }
}

/// The repository this binary was built from (the demo's files go under its `target/`).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/support/synapse ARGS` for the demo's Synapse.
fn synapse(
    dir: &Path,
    port: u16,
    server_name: &str,
    bot: &str,
    registration: &Path,
    args: &[&str],
) -> anyhow::Result<()> {
    let script = repo().join("tests").join("support").join("synapse");
    let status = Command::new("bash")
        .arg(&script)
        .args(args)
        .env("SYNAPSE_DIR", dir)
        .env("SYNAPSE_PORT", port.to_string())
        .env("SYNAPSE_SERVER_NAME", server_name)
        .env("SYNAPSE_SENDER_LOCALPART", bot)
        .env("SYNAPSE_REGISTRATION", registration)
        // The demo's rooms stay, so that a second run finds them (and sends nothing new).
        .env("SYNAPSE_KEEP_DB", "1")
        .status()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !status.success() {
        bail!("{} {} failed ({status})", script.display(), args.join(" "));
    }
    Ok(())
}
