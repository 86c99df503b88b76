//! `kbbridge export`: a Keybase account from the local client into an export folder
//! (incremental, resumable; format in the README).

use std::{path::Path, process::ExitCode};

use adapter_keybase::{
    cli::KeybaseCli,
    exporter::{self, ExportRequest, Sections},
};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{cli::ExportArgs, output::outln, wiring};

/// Runs the export. The `keybase` executable and home come from `--binary`/`--home`, else from
/// `[keybase]` when the mapping file exists, else `keybase` on `PATH`.
///
/// # Errors
/// When the folder cannot be used, Keybase cannot be reached, or the run is interrupted (what
/// was exported so far is kept; running again resumes).
pub async fn run(
    config_path: &Path,
    args: &ExportArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let section = if config_path.exists() {
        wiring::load_config(config_path)?.keybase
    } else {
        None
    };
    let mut cli = section
        .as_ref()
        .map(KeybaseCli::from_config)
        .unwrap_or_default();
    if let Some(binary) = &args.binary {
        cli.binary.clone_from(binary);
    }
    if let Some(home) = &args.home {
        cli.home = Some(home.clone());
    }
    let out = match (&args.out, section.as_ref().and_then(|k| k.export.as_ref())) {
        (Some(out), _) => out.clone(),
        (None, Some(export)) => export.clone(),
        (None, None) => anyhow::bail!(
            "give the export folder (`kbbridge export DIR`), or set `[keybase] export` in {}",
            config_path.display()
        ),
    };
    let sections = Sections {
        chats: args.chats,
        attachments: args.attachments,
        teams: args.teams,
        social: args.social,
        identity: args.identity,
        kbfs: args.kbfs,
        git: args.git,
    };
    let request = ExportRequest {
        out: out.clone(),
        sections,
        page_size: args.page_size,
    };
    let summary = tokio::select! {
        result = exporter::export(&cli, &request) => {
            result.with_context(|| format!("export into {} stopped", out.display()))?
        }
        () = shutdown.cancelled() => {
            // A clean stop, not a failure: `main` turns it into the signal's exit code.
            warn!(out = %out.display(),
                "export interrupted; what was exported so far is kept, run it again to resume");
            return Ok(ExitCode::FAILURE);
        }
    };
    outln!(
        "exported into {}: {} conversation(s), {} new message(s) in {} page(s), {} attachment(s) downloaded{}",
        out.display(),
        summary.conversations,
        summary.new_messages,
        summary.pages,
        summary.attachments_downloaded,
        if summary.sections.is_empty() {
            String::new()
        } else {
            format!("; {}", summary.sections.join(", "))
        }
    )?;
    if summary.conversations_failed + summary.attachments_failed > 0 {
        warn!(
            conversations = summary.conversations_failed,
            attachments = summary.attachments_failed,
            "some conversations or attachments were refused by Keybase; see manifest.json"
        );
    }
    if !summary.sections_failed.is_empty() {
        warn!(sections = %summary.sections_failed.join(", "),
            "some sections could not be exported; run again with their flags to retry");
    }
    Ok(ExitCode::SUCCESS)
}
