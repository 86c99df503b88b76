//! `kbbridge inspect EXPORT`: what an export holds, per channel.

use std::process::ExitCode;

use adapter_keybase::{KeybaseExport, inspect};
use anyhow::Context;

use crate::{cli::InspectArgs, output::out};

/// Prints the per-channel table of `args.export` (any format the reader takes).
///
/// # Errors
/// When the export cannot be read.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let export = KeybaseExport::open(&args.export)
        .with_context(|| format!("cannot read the export {}", args.export.display()))?;
    let report = inspect::inspect(&export)
        .with_context(|| format!("cannot read the export {}", args.export.display()))?;
    out!("{report}")?;
    Ok(ExitCode::SUCCESS)
}
