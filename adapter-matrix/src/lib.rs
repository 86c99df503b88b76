//! kbbridge's Matrix adapter: an application service that replays Keybase history into Matrix.
//!
//! Every message is sent by the **ghost** of its Keybase author (`@kb_alice:server`, an
//! appservice user asserted with `?user_id=`) at its **original time** (`?ts=`, honoured only
//! for appservices), into rooms and spaces shaped like the Keybase teams, with replies,
//! reactions (each by its user's ghost), formatted text and uploaded files. Requests are ruma's
//! types sent with reqwest: matrix-sdk cannot act as an appservice (`matrix.md` §2).
//!
//! Exactly once: every event's transaction ID and content carry its source (chat, message,
//! part), so a part whose send was interrupted by a crash is found again in the room before it
//! is sent again (Synapse forgets transaction IDs on restart).
//!
//! # Layout
//! - [`config`]: the `[matrix]` section of the mapping file, and Matrix ID syntax checks.
//! - [`sink`]: [`MatrixSink`], the `bridge_core::Sink` (send, find_sent, resolve_chat, check,
//!   and live: edit, delete, react); `amend.rs`: edits, redactions and live reactions.
//! - [`appservice`]: the receiving side: the homeserver's transactions, written to the
//!   store's inbox before they are answered, and read back out as core events.
//! - [`client`]: [`MatrixClient`], ruma requests over reqwest as the appservice.
//! - [`error`]: [`MatrixError`] and its one conversion into `AdapterError`.
//! - [`ghost`]: ghost users, registered and joined once; [`localpart`]: their names and the
//!   rooms' aliases (a reversible escape).
//! - `rooms.rs`: finding, adopting and creating rooms and spaces.
//! - [`parts`]: what events a message becomes, their transaction IDs and source key.
//! - [`convert`]: a part → its event content; [`markdown`]: Keybase markdown → sanitized HTML;
//!   [`emoji`]: `:shortcode:`s → emoji.
//! - [`media`]: uploads, image sizes.
//! - `reconcile.rs`: finding an interrupted send among the room's latest events.
//! - [`registration`]: the registration YAML for the homeserver.
//! - [`preflight`]: what `kbbridge check` asks the homeserver (reachable, as_token,
//!   server_name, the appservice ping); [`ping`]: the listener that answers the ping.
//! - [`viewer`]: inviting a person into a room and its spaces (`kbbridge demo`).
//! - `testing` (feature `testing`): a loopback Synapse for tests, and reading it back.
//!
//! The relay engine that drains the inbox into other platforms comes in a later version.

#![warn(missing_docs)]

mod amend;
pub mod appservice;
pub mod client;
pub mod config;
pub mod convert;
pub mod emoji;
pub mod error;
pub mod ghost;
pub mod localpart;
pub mod markdown;
pub mod media;
pub mod parts;
pub mod ping;
pub mod preflight;
pub mod read_back;
mod reconcile;
pub mod registration;
mod rooms;
pub mod sink;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod viewer;

pub use client::MatrixClient;
pub use error::MatrixError;
pub use parts::SOURCE_KEY;
pub use sink::MatrixSink;
