//! kbbridge's Discord adapter: copies Keybase history into Discord through serenity.
//!
//! # Layout
//! - [`config`]: the `[discord]` section of the mapping file.
//! - [`source`]: [`DiscordSource`], the live events of the gateway (and the catch-up after a
//!   new session).
//! - [`sink`]: [`DiscordSink`], the [`bridge_core::Sink`]; `reconcile.rs`: finding the copy of
//!   an interrupted send.
//! - [`client`]: serenity's `Http` on an injected `reqwest` client, and the request path.
//! - [`limiter`]: kbbridge's own rate limiter (buckets, global, invalid-request budget).
//! - [`convert`]: a message → its parts and their text; [`markdown`]: Keybase → Discord markup;
//!   [`split`]: splitting at 2,000 characters; [`names`]: usernames and channel names.
//! - `channels.rs`: adopting or creating channels and categories; `webhooks.rs`: one webhook per
//!   channel.
//! - [`preflight`]: what `kbbridge check` asks Discord (token, guild, permissions, channels);
//!   [`permissions`]: the bot's permissions, computed as Discord does.
//! - [`error`]: [`DiscordError`] and its one classification into [`bridge_core::AdapterError`].

#![warn(missing_docs)]

mod amend;
mod application;
mod channels;
pub mod client;
pub mod config;
pub mod convert;
pub mod error;
pub mod limiter;
pub mod markdown;
pub mod names;
pub mod permissions;
pub mod preflight;
mod reactions;
mod read_back;
mod reconcile;
pub mod sink;
pub mod source;
pub mod split;
mod webhooks;

pub use error::DiscordError;
pub use sink::{DiscordSink, SinkOptions};
pub use source::{DiscordSource, KnownChannels, SourceOptions};
