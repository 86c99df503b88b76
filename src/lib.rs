//! The `kbbridge` daemon and command-line tool.
//!
//! # Layout
//! - [`cli`]: flags and subcommands (clap).
//! - [`logging`]: tracing setup, drawn around the progress bars.
//! - [`output`]: standard output of the results; a closed pipe ends quietly.
//! - [`private_file`]: files holding secrets, created readable by their owner only.
//! - [`signals`]: SIGINT/SIGTERM → cancellation; the exit code after such a stop (130, 143).
//! - `service`: systemd's readiness, stopping and watchdog notifications for `run`.
//! - [`progress`]: progress bars (terminal) or periodic log lines (otherwise).
//! - [`wiring`]: config → store, export, sinks and backfill jobs.
//! - [`patterns`]: pattern links (`acme#*`, `direct:*`) expanded into one link per chat.
//! - `commands/`: one file per subcommand: `init`, `check`, `plan`, `backfill`, `run`, `verify`, `serve`, `status`,
//!   `demo`, `matrix-registration`, and the export tools `export`, `inspect`, `convert`.

#![warn(missing_docs)]

pub mod admin;
pub mod cli;
mod commands;
mod live;
pub mod logging;
pub mod output;
pub mod patterns;
pub mod private_file;
pub mod progress;
mod service;
pub mod signals;
pub mod wiring;

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::{cli::Command, logging::Display};

/// Runs the command `cli` names until it ends or `shutdown` is cancelled.
///
/// # Errors
/// Anything that stops the command, with what the operator should do next in the message.
pub async fn run(
    cli: cli::Cli,
    display: Display,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    // Export-folder verbs need no mapping file (`export` reads `[keybase]` when there is one).
    let command = match cli.command {
        Command::Export(args) => return commands::export::run(&cli.config, &args, shutdown).await,
        // Writes the mapping file: there is none to read yet.
        Command::Init(args) => return commands::init::run(&cli.config, &args),
        Command::Inspect(args) => return commands::inspect::run(&args),
        Command::Convert(args) => return commands::convert::run(&args),
        // Makes the Matrix tokens a file without them is refused for.
        Command::MatrixRegistration => return commands::matrix_registration::run(&cli.config),
        // Reads the database only: it must work without the platforms' tokens.
        Command::Status => {
            let mut config = wiring::load_config_without_secrets(&cli.config)?;
            patterns::expand_links(&mut config).await?;
            return commands::status::run(&config).await;
        }
        command => command,
    };
    let mut config = wiring::load_config(&cli.config)?;
    let expanded = patterns::expand_links(&mut config).await?;
    match command {
        Command::Check => commands::check::run(&config, &expanded.patterns).await,
        Command::Plan(filter) => commands::plan::run(&config, &filter).await,
        Command::Backfill(filter) => {
            commands::backfill::run(&config, &filter, display, shutdown).await
        }
        Command::Run(filter) => {
            commands::run::run(&config, &expanded, &filter, display, shutdown).await
        }
        Command::Verify(filter) => commands::verify::run(&config, &filter).await,
        Command::Serve => commands::serve::run(&config, shutdown).await,
        Command::Demo => commands::demo::run(&config, display, shutdown).await,
        // Handled above, before the mapping file is read.
        Command::Export(_)
        | Command::Init(_)
        | Command::Inspect(_)
        | Command::Convert(_)
        | Command::MatrixRegistration
        | Command::Status => Ok(ExitCode::SUCCESS),
    }
}
