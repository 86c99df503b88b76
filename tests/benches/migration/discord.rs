//! The Discord side: the `kbbridge backfill` binary into the Discord stand-in (its documented
//! limits, every window scaled by one factor), from process start to exit; the achieved rate
//! over the rate the stand-in allows (per-webhook executes × channels, capped by its global
//! limit).

use std::{
    fmt::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use discord_standin::{Limits, StandIn, StandInOptions, TEXT};

use crate::export::CHANNELS;

/// What the Discord run saw.
pub struct Outcome {
    pub took: Duration,
    /// Messages the stand-in recorded.
    pub recorded: usize,
    /// Messages per second the stand-in allows over the 8 channels' webhooks.
    pub allowed: f64,
    /// 429s the stand-in answered.
    pub rejected: u64,
}

/// Runs `kbbridge backfill` over `export` into 8 stand-in channels (reactions as the default
/// line under each copy, so one webhook execute per message).
pub async fn kbbridge(
    dir: &Path,
    export: &Path,
    log: &Path,
    log_level: &str,
    scale: f64,
) -> Result<Outcome, String> {
    let limits = Limits::discord().scaled(scale);
    let standin = StandIn::start(StandInOptions {
        limits: limits.clone(),
        ..StandInOptions::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[keybase]\nexport = {:?}\n\n\
         [discord]\nguild_id = \"{}\"\n\n[backfill]\nparallel_links = {}\n",
        dir.join("discord.db").display(),
        export.display().to_string(),
        standin.guild_id(),
        CHANNELS.len()
    );
    for (i, chat) in CHANNELS.iter().enumerate() {
        let channel = standin.create_channel(&chat.replace(['#', '.'], "-"), TEXT, None);
        write!(
            toml,
            "\n[[link]]\nname = \"l{i}\"\nkeybase = {chat:?}\ndiscord = \"{channel}\"\nmode = \"backfill\"\n"
        )
        .map_err(|e| e.to_string())?;
    }
    let config = dir.join("discord.toml");
    std::fs::write(&config, toml).map_err(|e| e.to_string())?;
    let ca = dir.join("standin-ca.pem");
    std::fs::write(&ca, standin.ca_pem()).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
    cmd.arg("--config")
        .arg(&config)
        .arg("backfill")
        .env("KBBRIDGE__DISCORD__TOKEN", standin.token())
        .env(
            "KBBRIDGE__DISCORD__CONNECT_TO",
            standin.tls_addr().to_string(),
        )
        .env("KBBRIDGE__DISCORD__CA_FILE", &ca)
        .env("RUST_LOG", log_level)
        .env_remove("KBBRIDGE_CONFIG")
        .stdout(Stdio::null())
        .stderr(stderr);
    let start = Instant::now();
    // The stand-in runs on this runtime: wait for the child off it.
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !status.success() {
        return Err(format!(
            "kbbridge backfill: {status}, see {}",
            log.display()
        ));
    }
    let stats = standin.stats();
    let per_webhook = limits.webhook_execute.per_second();
    Ok(Outcome {
        took,
        recorded: standin.all_messages().len(),
        allowed: (per_webhook * CHANNELS.len() as f64).min(limits.global.per_second()),
        rejected: stats.route_429 + stats.global_429,
    })
}
