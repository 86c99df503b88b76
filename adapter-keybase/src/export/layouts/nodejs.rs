//! keybase-binding-nodejs's folder for one user (`<path>/<keybase user>/`, `-p` defaulting to
//! `./exports`), as its `get_everything.js` writes it:
//!
//! ```text
//! <user>/team_memberships.json              `keybase team list-memberships`, as JSON
//! <user>/teams/<team>-topics.json           the `listconvsonname` reply (not read)
//! <user>/teams/<team>/<topic>.json          the topic's `{"msg": …}` wrappers, newest first
//! <user>/teams/attachments/<team>.<topic>.<msg id>.<extension>
//! ```
//!
//! Each topic file is a raw dump whose wrappers carry extra keys (`"id": "<team>-<team>-<id>"`,
//! `msg.topic_id`, `msg.urls`, `msg.content.content_character_length`…), ignored. The tool
//! exports team channels only. Attachments are looked for by the message's own team and topic.
//! Given `<path>` instead of `<path>/<user>`, the user folders are read as a folder of exports.

use std::path::Path;

use super::{ExportLayout, Plan, folder, unknown};
use crate::{
    error::KeybaseError,
    export::{ExportFormat, attachments::Naming},
};

/// The teams folder.
pub(super) const TEAMS: &str = "teams";
/// The team list written beside it.
pub(super) const MEMBERSHIPS: &str = "team_memberships.json";
/// The attachments folder, inside the teams folder.
const ATTACHMENTS: &str = "attachments";

/// Reads the user folder `user`.
pub(super) fn plan(user: &Path) -> Result<Plan, KeybaseError> {
    let teams = user.join(TEAMS);
    let mut plan = Plan::new(
        ExportLayout::KeybaseBindingNodejs,
        user,
        ExportFormat::RawApi,
    );
    let dir = plan.dir(teams.join(ATTACHMENTS), Naming::TopicId);
    if teams.is_dir() {
        for team in folder::entries(&teams)? {
            if !team.is_dir || team.name == ATTACHMENTS || team.name.starts_with('.') {
                continue;
            }
            for topic in folder::entries(&team.path)? {
                if topic.is_file && topic.name.ends_with(".json") && !topic.name.starts_with('.') {
                    plan.file(&topic.path, ExportFormat::RawApi, dir);
                }
            }
        }
    }
    if plan.parts.is_empty() {
        let detail = format!(
            "it looks like keybase-binding-nodejs's folder, but holds no {TEAMS}/<team>/<topic>.json"
        );
        return Err(unknown(user, detail));
    }
    Ok(plan)
}
