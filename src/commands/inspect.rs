//! `kbbridge inspect EXPORT`: what an export holds, per channel.

use std::process::ExitCode;

use adapter_keybase::{KeybaseExport, inspect};
use anyhow::Context;

use crate::{
    cli::InspectArgs,
    output::{escape_for_terminal, out},
};

/// Prints the per-channel table of `args.export` (any format the reader takes).
///
/// # Errors
/// When the export cannot be read.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let export = KeybaseExport::open(&args.export)
        .with_context(|| format!("cannot read the export {}", args.export.display()))?;
    let mut report = inspect::inspect(&export)
        .with_context(|| format!("cannot read the export {}", args.export.display()))?;
    report.path = escape_for_terminal(&report.path).into_owned();
    for channel in &mut report.channels {
        channel.chat = escape_for_terminal(&channel.chat).into_owned();
    }
    out!("{report}")?;
    Ok(ExitCode::SUCCESS)
}
