//! Command-line flags (clap).

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// Moves a Keybase team's chat history to Discord or Matrix, then keeps them in sync.
#[derive(Debug, Parser)]
#[command(name = "kbbridge", version, about)]
pub struct Cli {
    /// The mapping file (TOML).
    #[arg(long, short = 'c', global = true, env = "KBBRIDGE_CONFIG", default_value = "kbbridge.toml")]
    pub config: PathBuf,

    /// More log output (-v debug, -vv trace).
    #[arg(long, short = 'v', global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Less log output (-q warnings only, -qq errors only).
    #[arg(long, short = 'q', global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the mapping file and check that every link's source chat exists.
    Check,
    /// Show what a backfill would do: links, message counts, estimated duration.
    Plan(LinkFilter),
    /// Replay the export into the targets (resumable; re-running sends only what is missing).
    Backfill(LinkFilter),
    /// Backfill, then keep relaying live (the relay comes in a later version).
    Run(LinkFilter),
    /// Show backfill progress, pending sends and rejected messages from the database.
    Status,
}

/// Which links a command works on.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LinkFilter {
    /// Only these links (by `name`); repeat for several. Default: every link.
    #[arg(long = "link", value_name = "NAME")]
    pub links: Vec<String>,
}
