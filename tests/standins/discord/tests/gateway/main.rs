//! The stand-in's gateway: its protocol as a bare WebSocket client sees it (`protocol.rs`,
//! every frame also parsed by serenity's models), and serenity's own shard running unchanged
//! against it (`serenity_client.rs`).

mod protocol;
mod serenity_client;
mod support;
