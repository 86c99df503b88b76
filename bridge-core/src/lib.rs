//! kbbridge's platform-neutral core.
//!
//! It knows no platform, no TOML and no HTTP: adapters convert to and from its model, and the
//! binary wires them together.
//!
//! # Layout
//! - [`ids`]: opaque identifiers (`Platform`, `ChatId`, `MsgId`, `UserId`, `Cursor`, refs).
//! - [`model`]: the one message model (`Event`, `Message`, `Content`, `Attachment`).
//! - [`adapter`]: the `HistorySource`, `LiveSource` and `Sink` traits and `AdapterError`.
//! - [`store`]: the persistent ID-mapping store (SQLite by default, PostgreSQL by URL).
//! - [`delivery`]: one message into one target chat, part by part, exactly once (the step
//!   the backfill and the live relay share).
//! - [`backfill`]: the backfill engine: paced, retried, resumable, exactly-once per part.
//! - [`notes`]: the notes a sink leaves in place of files it could not copy.
//! - [`pacer`]: the per-sink message rate limiter (governor on tokio's clock).
//! - [`relay`]: the live relay engine: events applied to the other chats of their link.
//! - [`handoff`]: several instances on one database: live events handed from the instance
//!   holding a platform's listener to the instance holding their link.
//! - [`retry`]: the retry policy by error class (backon).
//! - [`lease`]: holding a store lease while work runs (one writer per link).
//! - [`preflight`]: what `kbbridge check` found about a platform (findings, verdicts).
//! - [`links`]: which chats mirror each other and what to do with them.
//! - [`secret`]: a string that never reaches a log, and the registry that masks every secret.
//! - [`report`]: the one place an error becomes text (each cause once, secrets masked).
//! - `testing` (feature `testing`): in-memory fakes of a history source and a sink.
//!
//! # Backfill in one paragraph
//! For each link, the engine reads the source chat page by page from the saved cursor. For each
//! message and each part of its copy it checks the store: sent parts are skipped, a *pending*
//! part (a crash happened during its send) is first looked up in the target, and anything else
//! is written *pending*, sent, and turned *sent* with the new ID. The cursor is saved after
//! each page, so a crash re-reads at most one page and the store removes the duplicates.

#![warn(missing_docs)]

pub mod adapter;
pub mod backfill;
pub mod delivery;
pub mod handoff;
pub mod ids;
pub mod lease;
pub mod links;
pub mod model;
pub mod notes;
pub mod pacer;
pub mod preflight;
pub mod relay;
pub mod report;
pub mod retry;
pub mod secret;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verify;

pub use adapter::{
    AdapterError, BoxError, HistorySource, Incoming, LiveSource, Mode, Outgoing, Page, Posted,
    ReactionStyle, Sink, TextPart,
};
pub use ids::{ChatId, ChatRef, Cursor, MsgId, MsgRef, Platform, UserId};
pub use model::{
    Attachment, ChatInfo, ChatKind, Content, Event, Message, MessageKind, Reaction, Sender, Syntax,
    safe_file_name,
};
pub use report::Report;
pub use secret::Secret;
pub use store::{MappingStore, StoreError};
