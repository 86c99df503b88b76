//! One source chat's worker: its events applied in order, with the reorder window.

use std::sync::Arc;

use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    Leases, Queued, Relay, RelayError,
    apply::{Applied, Outcome, gave_up},
    reorder::Window,
};
use crate::{ids::ChatRef, model::Event};

/// Answers owed once the step that produced them is recorded.
type Answers = Vec<(Option<oneshot::Sender<Applied>>, Applied)>;

impl Relay {
    /// The worker of `chat`: applies its events in order until `rx` closes and nothing is held
    /// any more, or `stop` is cancelled. Held events are then dropped unanswered: the source
    /// replays them (the Matrix inbox keeps what was not answered; a catch-up starts before the
    /// first held event, whose position was never saved).
    pub(super) async fn worker(
        self: Arc<Self>,
        chat: ChatRef,
        mut rx: mpsc::Receiver<Queued>,
        stop: CancellationToken,
    ) -> Result<(), RelayError> {
        let mut leases = Leases::default();
        let mut window = Window::new(self.options.reorder_window);
        let mut open = true;
        let mut answers = Answers::new();
        while open || !window.is_empty() {
            let deadline = window.next_deadline();
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)),
                    if deadline.is_some() =>
                {
                    for queued in window.expired(Instant::now()) {
                        self.last_chance(queued, &mut leases, &mut answers).await?;
                    }
                }
                next = rx.recv(), if open => match next {
                    Some(queued) => {
                        crate::telemetry::queued(-1.0);
                        self.step(queued, &mut window, &mut leases, &mut answers).await?;
                    }
                    None => open = false,
                },
            }
            if let Some(position) = window.savable() {
                self.store.save_live_position(&chat, &position).await?;
            }
            for (done, applied) in answers.drain(..) {
                crate::telemetry::relayed(chat.platform, applied.label());
                if let Some(done) = done {
                    // The source may have stopped waiting; the event is recorded either way.
                    let _ = done.send(applied);
                }
            }
        }
        for (_, guard) in leases.0.drain() {
            guard.release().await;
        }
        Ok(())
    }

    /// One event that arrived: applied, held, or (a delete) discarding what waits for it.
    async fn step(
        &self,
        queued: Queued,
        window: &mut Window,
        leases: &mut Leases,
        answers: &mut Answers,
    ) -> Result<(), RelayError> {
        let seq = window.arrive(queued.incoming.position.as_ref());
        let subject = queued.incoming.event.subject().msg.clone();
        let is_message = matches!(queued.incoming.event, Event::Message(_));
        match &queued.incoming.event {
            Event::Edit { .. } | Event::ReactionAdded { .. } | Event::ReactionRemoved { .. }
                if window.waits_for(&subject) =>
            {
                // Behind the events of the same message that already wait.
                window.hold(subject, seq, queued, Instant::now());
                return Ok(());
            }
            Event::Delete { .. } => {
                // Deleted before it came: what waits for it is moot.
                for held in window.take(&subject) {
                    answers.push((held.done, Applied::Tombstoned));
                }
                if let Some(held) = window.take_reaction(&subject) {
                    // A reaction taken back (by its own ID) before its message came: neither
                    // reaches any target.
                    answers.push((held.done, Applied::Superseded));
                    answers.push((queued.done, Applied::Superseded));
                    return Ok(());
                }
            }
            _ => {}
        }
        let lag = match &queued.incoming.event {
            Event::Message(msg) => (chrono::Utc::now() - msg.sent_at).to_std().ok(),
            _ => None,
        };
        match self.apply_now(&queued.incoming, leases).await? {
            Outcome::Done(applied) => {
                if let (Some(lag), Applied::Relayed(1..)) = (lag, &applied) {
                    crate::telemetry::relay_lag(queued.incoming.event.subject().platform, lag);
                }
                answers.push((queued.done, applied));
            }
            Outcome::Early => {
                window.hold(subject, seq, queued, Instant::now());
                return Ok(());
            }
        }
        if is_message {
            // Right after their message, in the order they came.
            for held in window.take(&subject) {
                self.last_chance(held, leases, answers).await?;
            }
        }
        Ok(())
    }

    /// A held event, applied now that its message came or its window ended: given up if its
    /// message is still not copied anywhere.
    async fn last_chance(
        &self,
        queued: Queued,
        leases: &mut Leases,
        answers: &mut Answers,
    ) -> Result<(), RelayError> {
        let applied = match self.apply_now(&queued.incoming, leases).await? {
            Outcome::Done(applied) => applied,
            Outcome::Early => {
                gave_up(&queued.incoming.event);
                Applied::GaveUp
            }
        };
        answers.push((queued.done, applied));
        Ok(())
    }
}
