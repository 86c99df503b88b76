//! `kbbridge export`'s own folder (see [`crate::layout`]), told by its `manifest.json`: the
//! committed bytes of each conversation file `chats/<conversation id>.jsonl` (one raw wrapper
//! per line), read in the manifest's order; bytes past the committed ones (a page being
//! written) are not read. Attachments: `attachments/<chat>/<id>-<safe file name>`.

use std::path::Path;

use super::{ExportLayout, Plan};
use crate::{
    error::KeybaseError,
    export::{ExportFormat, attachments::Naming, segments::PartSpec},
    layout::{self, Manifest},
};

/// `kbbridge export`'s folder: the committed bytes of each conversation file.
pub(super) fn plan(dir: &Path) -> Result<Plan, KeybaseError> {
    let manifest_path = dir.join(layout::MANIFEST);
    let manifest = Manifest::load(dir)
        .and_then(|m| m.ok_or_else(|| "the manifest disappeared".to_owned()))
        .map_err(|detail| KeybaseError::Manifest {
            path: manifest_path.clone(),
            detail,
        })?;
    let mut plan = Plan::new(
        ExportLayout::Kbbridge,
        &manifest_path,
        ExportFormat::Kbbridge,
    );
    let attachments = plan.dir(dir.join(layout::ATTACHMENTS_DIR), Naming::PerChannel);
    for (path, committed) in manifest.segments(dir) {
        plan.parts.push(PartSpec {
            label: path.clone(),
            path,
            format: ExportFormat::Kbbridge,
            dir: attachments,
            committed: Some(committed),
            one_per_line: false,
        });
    }
    Ok(plan)
}
