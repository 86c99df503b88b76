//! Logging setup: tracing to stderr, drawn around the progress bars, every line passed through
//! the secret registry ([`bridge_core::secret::redact`]) as it is written; and panics, printed
//! the same way.

use std::io::{IsTerminal, Write};

use bridge_core::secret::redact;
use indicatif::{MultiProgress, ProgressDrawTarget};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use crate::cli::{Cli, LogFormat};

/// Where long work shows its progress: bars on a terminal, periodic log lines otherwise.
#[derive(Clone)]
pub struct Display {
    /// The bars (hidden when stderr is not a terminal).
    pub bars: MultiProgress,
    /// Whether bars are drawn.
    pub interactive: bool,
}

/// Sets up the global tracing subscriber for `cli`'s verbosity and format.
///
/// `RUST_LOG` overrides the level given by `-v`/`-q`.
///
/// # Errors
/// When a subscriber was already set or `RUST_LOG` cannot be parsed.
pub fn init(cli: &Cli) -> anyhow::Result<Display> {
    let interactive = std::io::stderr().is_terminal() && cli.log_format == LogFormat::Text;
    let bars = if interactive {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    };
    let ours = match (cli.verbose, cli.quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    // Our crates at the chosen level; dependencies (sqlx, hyper…) only from warn up.
    let default = format!(
        "warn,kbbridge={ours},bridge_core={ours},bridge_config={ours},adapter_keybase={ours},\
         adapter_discord={ours},adapter_matrix={ours}"
    );
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::try_new(s)?,
        _ => EnvFilter::try_new(default)?,
    };
    let writer = BarAwareStderr { bars: bars.clone() };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match cli.log_format {
        LogFormat::Text => builder
            .fmt_fields(crate::output::log_fields())
            .with_ansi(interactive)
            .with_target(false)
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!(e))?;
    Ok(Display { bars, interactive })
}

/// Writes each log line to stderr with the progress bars lifted out of the way.
#[derive(Clone)]
struct BarAwareStderr {
    bars: MultiProgress,
}

impl<'a> MakeWriter<'a> for BarAwareStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            bars: self.bars.clone(),
            buf: Vec::new(),
        }
    }
}

/// Buffers one formatted event; writes it when dropped (tracing makes one writer per event).
struct LineWriter {
    bars: MultiProgress,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            // Errors are already reported through the registry; this also catches a token in a
            // field or span of a dependency's event (serenity records requests, webhook tokens
            // included, in its spans at `RUST_LOG=trace`).
            let text = String::from_utf8_lossy(&self.buf);
            let line = redact(&text);
            // Nowhere to report a failed write to stderr; dropping the line is all we can do.
            self.bars.suspend(|| {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            });
        }
    }
}

/// Replaces the panic message printer with one that masks every known secret (a panic's text
/// may quote a URL or a config value), keeping the location and, with `RUST_BACKTRACE`, the
/// backtrace.
pub fn redact_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let backtrace = std::backtrace::Backtrace::capture();
        let trace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        eprintln!(
            "kbbridge: thread '{name}' panicked{at}: {}{trace}",
            redact(message)
        );
    }));
}
