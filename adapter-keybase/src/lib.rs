//! kbbridge's Keybase adapter.
//!
//! Today it reads Keybase chat exports ([`KeybaseExport`]) as a [`bridge_core::HistorySource`]:
//! keybase-export JSON Lines files (every version), and raw `keybase chat api` dumps (arrays of
//! `{"msg": …}` wrappers, `read` replies, keybase-binding's `topic_name` map), told apart by
//! shape. Chat IDs are channel names (`acme#general`, `alice,bob`), message IDs the
//! per-conversation Keybase ids in decimal, cursors the last id returned.
//!
//! ```no_run
//! use adapter_keybase::{ExportOptions, KeybaseExport};
//!
//! let options = ExportOptions { notices: false, ..Default::default() };
//! let export = KeybaseExport::open_with("export/", options)?;
//! for chat in export.chats() {
//!     println!("{}: {} messages", chat.chat, chat.messages);
//! }
//! assert!(export.stats().balanced());
//! # Ok::<(), adapter_keybase::KeybaseError>(())
//! ```
//!
//! # Layout
//! - [`config`]: the `[keybase]` section of the mapping file.
//! - [`error`]: [`KeybaseError`] and its one conversion into [`bridge_core::AdapterError`].
//! - [`export`]: the export reader: open, index, stats, rejects, pages.
//!   - `export/options.rs`: [`ExportOptions`]; `export/format.rs`: [`ExportFormat`], its
//!     detection, and reading one indexed record back; `export/chat_info.rs`: what a target
//!     needs to know about a chat (name, groups, members, topic).
//!   - `export/scan.rs`: the single pass over the file at open (shared bookkeeping) and the
//!     JSON Lines loop; `export/index.rs`: the (channel, id) → (offset, length) index;
//!     `export/reader.rs`: bounded line reading.
//!   - `export/line.rs`: the serde shape of a keybase-export line and its classification;
//!     `export/node.rs`: an order-keeping lenient JSON tree for the loose fields.
//!   - `export/reactions.rs`: both reaction shapes and their mangled keys;
//!     `export/attachments.rs`: finding attachment files without leaving their folder, MIME types.
//!   - `export/stats.rs` and `export/rejects.rs`: what the scan found and could not read.
//!   - `export/raw/`: raw API dumps: `scanner.rs` (finding wrappers in any JSON layout),
//!     `msg.rs` (the `MsgSummary` shape), `folds.rs` (edits, deletes, reactions onto their
//!     targets), `system.rs` (system message texts).
//! - `convert.rs`: a read record → [`bridge_core::Message`].
//! - `source.rs`: the [`bridge_core::HistorySource`] implementation.

#![warn(missing_docs)]

pub mod config;
mod convert;
pub mod error;
pub mod export;
mod source;

pub use error::KeybaseError;
pub use export::{
    ChatSummary, ExportFormat, ExportOptions, ExportStats, KeybaseExport, MissingAttachment,
    Reject, RejectReason, RejectScope, SkipReason,
};
