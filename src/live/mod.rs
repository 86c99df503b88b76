//! The live relay as `kbbridge run` runs it: the links' chats resolved, the relay engine, and
//! the platforms' live sides feeding it.
//!
//! - `targets.rs`: each relaying link's chats, its targets found or made as a backfill would.
//! - `keybase.rs`: the supervised api-listen with its catch-ups, from each chat's position.
//! - `matrix.rs`: the appservice listener and its inbox, handed to the relay.
//! - `discord.rs`: the Discord gateway, its events handed to the relay.
//! - `chats.rs`: the rooms and channels those two read, joined by links added while running.
//! - `reload.rs`: SIGHUP: the mapping file read again, its link changes applied.
//! - `growth.rs`: the Keybase feed kept running, and a channel created on Keybase while
//!   kbbridge runs linked when a relaying pattern link names it.
//! - `shared.rs`, `ingress.rs`: `[database] shared = true`, one of several instances on one
//!   PostgreSQL database: listeners under ingress leases, links under link leases, events
//!   handed between them through the database.
//!
//! Order of a start (relay.md §4.3): the Matrix listener and the relay start first (what
//! Matrix users say goes to Keybase at once; what the homeserver queued while kbbridge was
//! down arrives on the ping); the backfill runs; then the Keybase feed starts, catching up each
//! chat after the later of the export's newest message and the stored live position, so what
//! was said on Keybase during the backfill or the downtime comes after the history, once.

mod chats;
mod discord;
mod growth;
mod ingress;
mod keybase;
mod matrix;
mod reload;
pub mod shared;
mod targets;

pub use self::{
    chats::LiveChats,
    discord::{DiscordLive, start_discord},
    growth::{FeedChange, Growth, KeybaseSide, keep_keybase},
    keybase::start_keybase,
    matrix::{MatrixLive, start_matrix},
    reload::Reloader,
    targets::{LiveSinks, resolve_links},
};
