//! SIGINT/SIGTERM → cancellation, and the exit code that tells which one stopped kbbridge.
//!
//! A run stopped by a signal ends with `128 + the signal's number` once it has stopped cleanly:
//! 130 after SIGINT (Ctrl-C), 143 after SIGTERM. That is what shells report for a process the
//! signal ended (`$?`), so a script or a loop around kbbridge sees an interruption, not a
//! failure (1) nor a finished backfill (0). Under systemd, which stops a service with SIGTERM,
//! add `SuccessExitStatus=143` to the unit so that a `systemctl stop` is not counted as a
//! failure (as for the JVM). The services (`run`, `serve`) are the exception: SIGTERM is their
//! normal stop, and they end with 0 after it (`main.rs`).

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use tracing::warn;

/// The signal that asked kbbridge to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, `systemctl stop`, container runtimes).
    Terminate,
}

impl StopSignal {
    /// The exit code after a clean stop: 128 + the signal's number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// The cancellation the commands watch, and which signal (if any) cancelled it.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    by: Arc<OnceLock<StopSignal>>,
}

impl Shutdown {
    /// The token cancelled on the first signal.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The signal that cancelled the token, if one did.
    pub fn signal(&self) -> Option<StopSignal> {
        self.by.get().copied()
    }
}

/// Cancels on the first SIGINT or SIGTERM; a second SIGINT exits at once (130).
///
/// Stopping at any point is safe (the store reconciles interrupted sends), so the second
/// signal does not need to wait for anything.
pub fn shutdown_on_signal() -> Shutdown {
    let shutdown = Shutdown::default();
    let fired = shutdown.clone();
    tokio::spawn(async move {
        let signal = wait_for_signal().await;
        warn!("stopping: finishing the current sends (press Ctrl-C again to stop at once)");
        let _ = fired.by.set(signal);
        fired.token.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(StopSignal::Interrupt.exit_code()));
        }
    });
    shutdown
}

async fn wait_for_signal() -> StopSignal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => StopSignal::Interrupt,
                    _ = term.recv() => StopSignal::Terminate,
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                StopSignal::Interrupt
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        StopSignal::Interrupt
    }
}
