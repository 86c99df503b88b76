//! The stand-in's gateway: its protocol as a bare WebSocket client sees it (`protocol.rs`,
//! every frame also parsed by serenity's models), serenity's own shard running unchanged
//! against it (`serenity_client.rs`), a channel's events held and released out of order
//! (`reorder.rs`), and people's files and replies (`files.rs`).

mod files;
mod protocol;
mod reorder;
mod serenity_client;
mod support;
