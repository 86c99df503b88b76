//! The `kbbridge` command: parses flags, sets up logging and signals, runs a command.

use std::process::ExitCode;

use bridge_core::Report;
use clap::Parser;
use kbbridge::{cli::Cli, output::escape_for_terminal};

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
    runtime.block_on(async move {
        let shutdown = kbbridge::signals::shutdown_on_signal();
        match kbbridge::run(cli, display, shutdown.token()).await {
            // Stopped by a signal, cleanly: say which (130, 143), not "failed" (1).
            Ok(code) => match shutdown.signal() {
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
