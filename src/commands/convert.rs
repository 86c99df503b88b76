//! `kbbridge convert EXPORT --to json|csv|xlsx [--out FILE]`: one row per message (columns in
//! the README).

use std::{
    fs::File,
    io::{self, IsTerminal},
    process::ExitCode,
};

use adapter_keybase::{KeybaseExport, tabular};
use anyhow::Context;
use tracing::info;

use crate::{
    cli::{ConvertArgs, TableFormat},
    output,
};

/// Writes the table to `--out`, or to standard output for JSON and CSV.
///
/// # Errors
/// When the export cannot be read or the output written.
pub fn run(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    let export = KeybaseExport::open(&args.export)
        .with_context(|| format!("cannot read the export {}", args.export.display()))?;
    let create = |path: &std::path::Path| {
        File::create(path).with_context(|| format!("cannot create {}", path.display()))
    };
    let rows = match (args.to, &args.out) {
        (TableFormat::Xlsx, Some(out)) => tabular::write_xlsx(&export, out)?,
        (TableFormat::Xlsx, None) => anyhow::bail!("--to xlsx writes a file: add --out FILE.xlsx"),
        (TableFormat::Json, Some(out)) => tabular::write_json(&export, create(out)?)?,
        (TableFormat::Json, None) => tabular::write_json(&export, output::stdout())?,
        (TableFormat::Csv, Some(out)) => tabular::write_csv(&export, create(out)?)?,
        // On a terminal, cells are shown with their control characters escaped (as `ls` does
        // with file names); JSON escapes them itself. Redirected, the text is kept as is.
        (TableFormat::Csv, None) if io::stdout().is_terminal() => {
            tabular::write_csv_shown(&export, output::stdout(), |cell| {
                output::escape_for_terminal(&cell).into_owned()
            })?
        }
        (TableFormat::Csv, None) => tabular::write_csv(&export, output::stdout())?,
    };
    info!(rows, format = ?args.to, "export converted");
    Ok(ExitCode::SUCCESS)
}
