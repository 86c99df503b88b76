//! Command-line flags (clap).

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// Moves a Keybase team's chat history to Discord or Matrix, then keeps them in sync.
#[derive(Debug, Parser)]
#[command(name = "kbbridge", version, about)]
pub struct Cli {
    /// The mapping file (TOML).
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "KBBRIDGE_CONFIG",
        default_value = "kbbridge.toml"
    )]
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
    /// Backfill the links that ask for it, then relay live until stopped.
    Run(LinkFilter),
    /// Write a mapping file for everything in an export (one link per team, the direct
    /// conversations together) to the `--config` path.
    Init(InitArgs),
    /// Read every backfilled chat back and compare it with the export: exit 0 only when each
    /// message is there once, in order, untouched.
    Verify(LinkFilter),
    /// Serve the admin listener alone ([admin]): the REST API over the export and the store,
    /// health, metrics and status, until stopped.
    Serve,
    /// Show backfill progress, pending sends and rejected messages from the database.
    Status,
    /// Print the appservice registration (YAML) to give the Matrix homeserver.
    MatrixRegistration,
    /// Quickstart: set up a local Synapse, backfill into it, show the rooms made.
    Demo,
    /// Export a Keybase account from the local client into a folder (run again to update it).
    Export(ExportArgs),
    /// Summarise an export per channel: messages, senders, dates, attachments, reactions.
    Inspect(InspectArgs),
    /// Write an export as one row per message: JSON, CSV or XLSX.
    Convert(ConvertArgs),
}

/// `kbbridge init`: the export, and the one target platform.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["discord", "matrix"])))]
pub struct InitArgs {
    /// The Keybase export (a file or folder `plan` and `backfill` can read).
    #[arg(value_name = "EXPORT")]
    pub export: PathBuf,
    /// Migrate to this Discord server (its ID: right-click the server, Copy Server ID).
    #[arg(long, value_name = "GUILD_ID")]
    pub discord: Option<String>,
    /// Migrate to this Matrix homeserver (its server name, as in `@user:SERVER`).
    #[arg(long, value_name = "SERVER_NAME")]
    pub matrix: Option<String>,
    /// Where kbbridge reaches the homeserver (default `https://SERVER_NAME`).
    #[arg(long, value_name = "URL", requires = "matrix")]
    pub homeserver: Option<String>,
    /// What the links do: `backfill` (copy the history once), `relay` or `both`.
    #[arg(long, default_value = "backfill", value_parser = ["backfill", "relay", "both"])]
    pub mode: String,
}

/// Which links a command works on.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LinkFilter {
    /// Only these links (by `name`); repeat for several. Default: every link.
    #[arg(long = "link", value_name = "NAME")]
    pub links: Vec<String>,
}

// --- Keybase export tools (issue 3): `export`, `inspect`, `convert` need no mapping file. ---

/// `kbbridge export`. No part flag given = every part.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The export folder (default: `[keybase] export` of the mapping file).
    #[arg(value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Messages of every conversation.
    #[arg(long)]
    pub chats: bool,
    /// Attachment files of the exported messages.
    #[arg(long)]
    pub attachments: bool,
    /// Team memberships and roles.
    #[arg(long)]
    pub teams: bool,
    /// Who you follow and who follows you.
    #[arg(long)]
    pub social: bool,
    /// Identity proofs (`keybase id`).
    #[arg(long)]
    pub identity: bool,
    /// The KBFS folder listing.
    #[arg(long)]
    pub kbfs: bool,
    /// Git repositories.
    #[arg(long)]
    pub git: bool,
    /// The `keybase` executable (default: `[keybase] binary`, else `keybase` on PATH).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// The Keybase home folder (`keybase --home`).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Messages per page read.
    #[arg(long, value_name = "N", default_value_t = adapter_keybase::exporter::DEFAULT_PAGE_SIZE)]
    pub page_size: u32,
}

/// `kbbridge inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// An export: a `kbbridge export` folder, a keybase-export file or folder, a raw dump.
    #[arg(value_name = "EXPORT")]
    pub export: PathBuf,
}

/// `kbbridge convert`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConvertArgs {
    /// The export to convert.
    #[arg(value_name = "EXPORT")]
    pub export: PathBuf,
    /// The output format.
    #[arg(long, value_enum)]
    pub to: TableFormat,
    /// The output file (default: standard output; required for xlsx).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `kbbridge convert --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// A JSON array of row objects.
    Json,
    /// CSV with a header row.
    Csv,
    /// An Excel workbook.
    Xlsx,
}
