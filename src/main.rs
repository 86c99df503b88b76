//! The `kbbridge` command: parses flags, sets up logging and signals, runs a command.

use std::process::ExitCode;

use bridge_core::Report;
use clap::Parser;
use kbbridge::{
    cli::{Cli, Command},
    output::escape_for_terminal,
    signals::StopSignal,
};

fn main() -> ExitCode {
    kbbridge::logging::redact_panics();
    let cli = Cli::parse();
    let display = match kbbridge::logging::init(&cli) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "kbbridge: cannot set up logging: {}",
                Report::new(e.as_ref())
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kbbridge: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // A service's clean stop on SIGTERM is its normal end (exit 0, as service managers
    // expect); a one-shot command stopped by a signal says it was interrupted (130, 143).
    let service = matches!(cli.command, Command::Run(_) | Command::Serve);
    runtime.block_on(async move {
        let shutdown = kbbridge::signals::shutdown_on_signal();
        match kbbridge::run(cli, display, shutdown.token()).await {
            Ok(code) => match shutdown.signal() {
                Some(StopSignal::Terminate) if service => code,
                Some(signal) => ExitCode::from(signal.exit_code()),
                None => code,
            },
            Err(e) => {
                // The whole cause chain on one line (ripgrep's way), each cause once, secrets
                // masked. Names in it come from the export and the targets: control
                // characters are escaped.
                let text = Report::new(e.as_ref()).to_string();
                let lines: Vec<_> = text.lines().map(escape_for_terminal).collect();
                eprintln!("kbbridge: {}", lines.join("\n"));
                ExitCode::FAILURE
            }
        }
    })
}
