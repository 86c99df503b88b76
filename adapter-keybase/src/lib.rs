//! kbbridge's Keybase adapter.
//!
//! It reads Keybase chat exports ([`KeybaseExport`]) as a [`bridge_core::HistorySource`]:
//! keybase-export JSON Lines files (every version), raw `keybase chat api` dumps (arrays of
//! `{"msg": …}` wrappers, `read` replies, keybase-binding-original's `topic_name` map) and
//! folders of them, dentropy/keybase-binding's folder and SQLite database,
//! keybase-binding-nodejs's folder, kbbridge's own export folder, and several of these
//! combined, told apart by shape ([`ExportLayout`]). It also writes that folder: [`exporter`] drives the local
//! `keybase` client through [`cli`]. Chat IDs are channel names (`acme#general`, `alice,bob`),
//! message IDs the per-conversation Keybase ids in decimal, cursors the last id returned.
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
//!   - `export/scan.rs`: the single pass over the files at open (shared bookkeeping) and the
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
//!   - `export/layouts/`: which layout a path holds and the files it is read from: `mod.rs`
//!     (detection, single files), `kbbridge.rs`, `folder.rs` (folders of dumps, several
//!     exports combined), `binding.rs` and `binding_sqlite.rs` (dentropy/keybase-binding's
//!     folder and database), `nodejs.rs` (keybase-binding-nodejs's folder).
//!   - `export/segments.rs`: the files read as one sequence, each with its format and
//!     attachments folder; `export/spill.rs`: sorted fixed-size records (index entries, folds)
//!     in memory or in a temporary file.
//! - `convert.rs`: a read record → [`bridge_core::Message`].
//! - `source.rs`: the [`bridge_core::HistorySource`] implementation.
//! - [`cli`]: the `keybase` executable: the persistent `chat api`/`team api` process
//!   ([`cli::ApiProcess`]) and one-shot commands.
//! - [`exporter`]: `kbbridge export` (chats, attachments, teams, social, identity, KBFS, git),
//!   incremental and resumable; [`layout`]: the folder it writes.
//! - [`live`]: the live side: the supervised `api-listen` ([`live::ApiListen`]), its lines as
//!   core events ([`live::EventReader`]), catching up after a position ([`live::catch_up`]).
//! - [`sink`]: [`sink::KeybaseSink`], writing relayed messages, edits, deletes, reactions and
//!   files into Keybase as the bridge account.
//! - [`inspect`]: per-channel figures of an export; [`tabular`]: an export as JSON, CSV or XLSX
//!   rows.
//!
//! The tests run [`cli`] against a stand-in `keybase`: test equipment of its own,
//! `tests/standins/keybase` at the workspace's root.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
mod convert;
pub mod error;
pub mod export;
pub mod exporter;
pub mod inspect;
pub mod layout;
pub mod live;
pub mod sink;
mod source;
pub mod tabular;

pub use error::KeybaseError;
pub use export::{
    ChatSummary, ExportFormat, ExportLayout, ExportOptions, ExportStats, KeybaseExport,
    MissingAttachment, Reject, RejectReason, RejectScope, SkipReason,
};
