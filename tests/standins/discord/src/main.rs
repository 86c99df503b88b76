//! The Discord stand-in as a process (test equipment): prints its addresses, writes its
//! certificate to the file given as the first argument (default `standin-ca.pem`), and serves
//! until killed. Environment: `STANDIN_TOKEN` (default `standin-token`), `STANDIN_SCALE` (time
//! scale of every limit, default 1), `STANDIN_MAX_FILE` (bytes, default 10 MiB),
//! `STANDIN_PRIVILEGED_INTENTS` (the privileged intent bits granted, default all three).

use discord_standin::{Limits, StandIn, StandInOptions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let ca_path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "standin-ca.pem".into());
    let mut options = StandInOptions::default();
    if let Ok(t) = std::env::var("STANDIN_TOKEN") {
        options.token = t;
    }
    if let Some(s) = std::env::var("STANDIN_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        options.limits = Limits::discord().scaled(s);
    }
    if let Some(m) = std::env::var("STANDIN_MAX_FILE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.max_file_size = m;
    }
    if let Some(bits) = std::env::var("STANDIN_PRIVILEGED_INTENTS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.privileged_intents = bits;
    }
    let standin = StandIn::start(options).await?;
    std::fs::write(&ca_path, standin.ca_pem())?;
    println!("tls {}", standin.tls_addr());
    println!("http {}", standin.http_addr());
    println!("gateway ws://{}", standin.gateway_addr());
    println!("guild {}", standin.guild_id());
    println!("ca {ca_path}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
