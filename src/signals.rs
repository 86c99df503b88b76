//! SIGINT/SIGTERM → cancellation.

use tokio_util::sync::CancellationToken;
use tracing::warn;

/// A token cancelled on the first SIGINT or SIGTERM; a second SIGINT exits at once.
///
/// Stopping at any point is safe (the store reconciles interrupted sends), so the second
/// signal does not need to wait for anything.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        warn!("stopping: finishing the current sends (press Ctrl-C again to stop at once)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
