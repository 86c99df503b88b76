//! `kbbridge run` as a service of systemd's (`Type=notify`, `WatchdogSec=`; the unit is
//! `config/packaging/kbbridge.service`), through the notification protocol of `sd_notify(3)`:
//!
//! - `READY=1` once the relay runs: after the backfills, with the Keybase feed listening. A
//!   `systemctl start` returns then, and units ordered after kbbridge start then.
//! - `WATCHDOG=1` every half of the interval the manager asks for (`WATCHDOG_USEC`, when
//!   `WATCHDOG_PID` is unset or this process), from ready until the relay starts to stop. The
//!   pings come from a task of the relay's own runtime, so a runtime that no longer runs its
//!   tasks stops pinging, and the manager kills and restarts kbbridge.
//! - `STOPPING=1` as soon as the relay starts to stop (a signal, or a part that ended), before
//!   it finishes the events in hand; no ping follows it.
//!
//! Without `NOTIFY_SOCKET` (started by hand, by a container runtime, or by a unit of another
//! type) nothing is sent and no task runs.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use sd_notify::NotifyState;
use tokio::{task::JoinHandle, time::MissedTickBehavior};
use tracing::{debug, warn};

/// The service manager told how the relay stands, while the relay runs.
///
/// Dropping it is stopping it ([`Notifier::stopping`]).
#[must_use = "the watchdog pings stop when the notifier is dropped"]
pub struct Notifier {
    /// `None` without a service manager to tell.
    state: Option<Notified>,
}

struct Notified {
    /// Whether `STOPPING=1` was sent. A ping is sent holding this lock, so none can follow it.
    stopped: Arc<Mutex<bool>>,
    pinger: Option<JoinHandle<()>>,
}

impl Notifier {
    /// Tells the service manager (if any) that kbbridge relays `links` links, and starts the
    /// watchdog pings when it asks for them. Must be called within the tokio runtime.
    pub fn ready(links: usize) -> Self {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Self { state: None };
        }
        let status = format!("relaying {links} link(s)");
        send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        let stopped = Arc::new(Mutex::new(false));
        let pinger = sd_notify::watchdog_enabled().map(|timeout| {
            let period = ping_period(timeout);
            debug!(
                every_ms = period.as_millis(),
                "pinging the service manager's watchdog"
            );
            tokio::spawn(ping(period, Arc::clone(&stopped)))
        });
        Self {
            state: Some(Notified { stopped, pinger }),
        }
    }

    /// Tells the service manager (if any) that kbbridge is stopping, and stops the pings.
    pub fn stopping(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        {
            let mut stopped = state.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            *stopped = true;
            send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
        }
        if let Some(pinger) = state.pinger {
            pinger.abort();
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often to ping a watchdog of `timeout`: at half of it, as `sd_watchdog_enabled(3)`
/// advises, so one late ping is not yet a missed one.
fn ping_period(timeout: Duration) -> Duration {
    // `interval` refuses a zero period; the manager never asks for less than 1 µs.
    (timeout / 2).max(Duration::from_micros(1))
}

/// `WATCHDOG=1` every `period` (the first at once) until `stopped`.
async fn ping(period: Duration, stopped: Arc<Mutex<bool>>) {
    let mut every = tokio::time::interval(period);
    // After a stall, ping once and keep the period from then on, rather than a burst.
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let stopped = stopped.lock().unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            return;
        }
        send(&[NotifyState::Watchdog]);
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        // The manager then misses a state (a ready or a ping): it says so in its own log.
        warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_watchdog_interval() {
        assert_eq!(
            ping_period(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            ping_period(Duration::from_micros(3)),
            Duration::from_nanos(1500)
        );
        assert_eq!(ping_period(Duration::ZERO), Duration::from_micros(1));
    }

    #[tokio::test]
    async fn a_stopped_pinger_sends_nothing_more_and_ends() {
        let stopped = Arc::new(Mutex::new(true));
        // Ends at its first tick instead of pinging (and, were NOTIFY_SOCKET set in the
        // test's environment, instead of sending to it).
        tokio::time::timeout(
            Duration::from_secs(5),
            ping(Duration::from_millis(1), stopped),
        )
        .await
        .expect("the pinger ends once stopped");
    }
}
