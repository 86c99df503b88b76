//! A reaction event settled against Discord before it is relayed.
//!
//! The gateway may deliver a reaction's removal before the reaction itself, and its reaction
//! events carry no ID or time, so the relay cannot tell that pair from a removal followed by a
//! new reaction: it would take back nothing, then copy the reaction, and the other sides would
//! keep a reaction Discord no longer has. So each reaction event of someone else is checked
//! against Discord as it is delivered (in the channel's order): one read of whether that user
//! reacts so now, and the event handed over is what is true now: a reaction there is
//! [`Event::ReactionAdded`], one not there [`Event::ReactionRemoved`] (a removal the relay has
//! no record of is a no-op there). A pair delivered either way round thus ends as on Discord.

use bridge_core::{AdapterError, Event, Incoming};
use serenity::{
    http::{LightMethod, Request, Route},
    model::{
        channel::ReactionType,
        event::Event as GatewayEvent,
        id::{ChannelId, MessageId},
        user::User,
    },
};
use tracing::{debug, warn};

use super::{
    deliver::{Deliver, Stop},
    events,
};
use crate::{DiscordError, DiscordSink};

/// One user's reaction with one emoji on one message: what a reaction event is about.
#[derive(Clone, Debug)]
pub(super) struct Subject {
    channel: u64,
    message: u64,
    emoji: ReactionType,
    /// The reacting user's ID.
    pub(super) user: u64,
}

/// The reaction a MESSAGE_REACTION_ADD or _REMOVE is about; `None` for other events and for
/// a reaction event without a user.
pub(super) fn subject(event: &GatewayEvent) -> Option<Subject> {
    let r = match event {
        GatewayEvent::ReactionAdd(e) => &e.reaction,
        GatewayEvent::ReactionRemove(e) => &e.reaction,
        _ => return None,
    };
    Some(Subject {
        channel: r.channel_id.get(),
        message: r.message_id.get(),
        emoji: r.emoji.clone(),
        user: r.user_id?.get(),
    })
}

/// What Discord says of a reaction now.
#[derive(Debug)]
pub(super) enum Now {
    /// The user reacts so; their user object as Discord lists it.
    There(Box<User>),
    /// They do not (or the message or the emoji is gone).
    Gone,
    /// Discord would not say (a lasting error): the event is relayed as it came.
    Unknown,
}

/// Whether `r.user` reacts with `r.emoji` now. Discord lists reacting users by ID ascending
/// and `after` is exclusive, so the first user after `user - 1` answers it in one read.
async fn ask(sink: &DiscordSink, r: &Subject) -> Result<Now, DiscordError> {
    // As the sink's reaction routes: Unicode percent-encoded, a custom emoji as `name:id`.
    let data = r.emoji.as_data();
    let route = Route::ChannelMessageReactionEmoji {
        channel_id: ChannelId::new(r.channel.max(1)),
        message_id: MessageId::new(r.message.max(1)),
        reaction: &data,
    };
    let params = vec![
        ("after", r.user.saturating_sub(1).to_string()),
        ("limit", "1".to_owned()),
    ];
    let req = Request::new(route, LightMethod::Get).params(Some(params));
    match sink.rest.json::<Vec<User>>("read a reaction", req).await {
        Ok(users) => Ok(match users.into_iter().next() {
            Some(u) if u.id.get() == r.user => Now::There(Box::new(u)),
            _ => Now::Gone,
        }),
        // Unknown message or emoji: no reaction there to relay.
        Err(
            e @ DiscordError::Api {
                code: 10008 | 10014,
                ..
            },
        ) => {
            debug!(channel = r.channel, message = r.message, error = %e,
                "the reacted message or emoji is gone; relayed as a removal");
            Ok(Now::Gone)
        }
        Err(e) => Err(e),
    }
}

impl Deliver<'_> {
    /// What Discord says of `r` now, retrying passing failures with the source's backoff.
    pub(super) async fn reaction_now(&self, r: &Subject) -> Result<Now, Stop> {
        let sink = self.sink;
        let asked = self
            .retry(|| async { ask(sink, r).await.map_err(AdapterError::from) })
            .await;
        match asked {
            Ok(now) => Ok(now),
            Err(Stop::Failed(e)) => {
                // One unreadable reaction must not stop the channel's other events.
                warn!(channel = r.channel, message = r.message, error = %e,
                    "cannot read a reaction back from Discord; relaying its event as it came");
                Ok(Now::Unknown)
            }
            Err(Stop::Closed) => Err(Stop::Closed),
        }
    }

    /// `incoming` (a reaction event) as `now` says: an add no longer true becomes a removal,
    /// a removal of a reaction that is there again becomes an add, named as last seen.
    pub(super) fn settle(&self, incoming: Incoming, now: &Now) -> Incoming {
        let Incoming {
            event,
            position,
            own,
        } = incoming;
        let event = match (event, now) {
            (
                Event::ReactionAdded {
                    target,
                    sender,
                    emoji,
                    id,
                },
                Now::Gone,
            ) => {
                debug!(msg = %target, emoji = %emoji, "a reaction taken back before it was relayed");
                Event::ReactionRemoved {
                    target,
                    sender,
                    emoji,
                    id,
                }
            }
            (
                Event::ReactionRemoved {
                    target,
                    sender,
                    emoji,
                    id,
                },
                Now::There(user),
            ) => {
                debug!(msg = %target, emoji = %emoji, "a reaction given again before its removal was relayed");
                let sender = self
                    .known(sender.id.as_str())
                    .cloned()
                    .unwrap_or_else(|| events::sender(user, None));
                Event::ReactionAdded {
                    target,
                    sender,
                    emoji,
                    id,
                }
            }
            (event, _) => event,
        };
        Incoming {
            event,
            position,
            own,
        }
    }
}
