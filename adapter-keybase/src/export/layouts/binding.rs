//! dentropy/keybase-binding's output folder (`./out/` by default), as its `ExportKeybase.py`
//! writes it:
//!
//! ```text
//! out/Teams/<team>/<topic>/NNN.json       team channels (`save_all_team_channel_messages`)
//! out/SpecificTeamOut/<team>/<topic>/NNN.json   one team (`save_specific_team_chat`)
//! out/DMs/<name>/NNN.json                 direct and group chats (`impteamnative` only)
//! out/Attachments/<uid>-<sent_at_ms>-<filename with spaces as _>
//! out/keybase_export.sqlite               the same messages (see `binding_sqlite.rs`)
//! ```
//!
//! Each `NNN.json` (`001.json`, `002.json`…, about 10,000 messages each) is a JSON array of the
//! `read` replies' `{"msg": …}` wrappers, newest first: a raw dump, read as such. Chats are
//! named from each message's own `channel`, not from the folder names. The database holds the
//! same wrappers, written together with the files; it is read only when the folder has no
//! message file at all (pass the `.sqlite` file itself to read just the database).

use std::path::Path;

use super::{ExportLayout, Plan, binding_sqlite, folder, unknown};
use crate::{
    error::KeybaseError,
    export::{ExportFormat, attachments::Naming},
};

/// The team channels' folder.
pub(super) const TEAMS: &str = "Teams";
/// The direct and group chats' folder.
pub(super) const DMS: &str = "DMs";
/// The folder of `save_specific_team_chat`.
pub(super) const SPECIFIC_TEAM: &str = "SpecificTeamOut";
/// The database.
pub(super) const DATABASE: &str = "keybase_export.sqlite";
/// The attachments folder.
pub(super) const ATTACHMENTS: &str = "Attachments";

/// Reads the folder `out`.
pub(super) fn plan(out: &Path) -> Result<Plan, KeybaseError> {
    let mut plan = Plan::new(ExportLayout::KeybaseBinding, out, ExportFormat::RawApi);
    let dir = plan.dir(out.join(ATTACHMENTS), Naming::SenderTime);
    // Teams/<team>/<topic>/ and SpecificTeamOut/<team>/<topic>/ are two levels down,
    // DMs/<name>/ one.
    for (top, levels) in [(TEAMS, 2), (SPECIFIC_TEAM, 2), (DMS, 1)] {
        let root = out.join(top);
        if root.is_dir() {
            add_pages(&mut plan, &root, levels, dir)?;
        }
    }
    if !plan.parts.is_empty() {
        return Ok(plan);
    }
    let database = out.join(DATABASE);
    if database.is_file() {
        return binding_sqlite::plan(&database);
    }
    let detail = format!(
        "it looks like dentropy/keybase-binding's output folder, but holds no message file \
         ({TEAMS}/<team>/<topic>/NNN.json, {DMS}/<name>/NNN.json) and no {DATABASE}"
    );
    Err(unknown(out, detail))
}

/// Adds the `*.json` pages `levels` folders below `dir`, in name order.
fn add_pages(
    plan: &mut Plan,
    dir: &Path,
    levels: usize,
    attachments: usize,
) -> Result<(), KeybaseError> {
    for entry in folder::entries(dir)? {
        if entry.name.starts_with('.') {
            continue;
        }
        if levels > 0 && entry.is_dir {
            add_pages(plan, &entry.path, levels - 1, attachments)?;
        } else if levels == 0 && entry.is_file && entry.name.ends_with(".json") {
            plan.file(&entry.path, ExportFormat::RawApi, attachments);
        }
    }
    Ok(())
}
