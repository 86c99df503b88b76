//! Attachments (keybase.md §6): for each conversation, the attachment messages of its
//! committed lines that are not deleted, downloaded with `download` to
//! `attachments/<chat>/<id>-<safe file name>` through a temporary `.part` file. Files already
//! there are skipped, so re-runs fetch only new ones; the service's refusals are recorded in the
//! manifest and not asked again.

use std::{
    collections::BTreeSet,
    fs::{self, File},
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

use bridge_core::safe_file_name;
use tracing::{info, warn};

use super::{
    ExportSummary,
    error::{ExportError, io_at},
    store::{Store, sync_dir},
};
use crate::{
    cli::{
        ApiProcess, ClientError,
        requests::{DownloadOptions, WrapperPeek},
    },
    export::attachments::plain_name,
    layout::ATTACHMENTS_DIR,
};

/// An attachment message of a conversation file.
struct Wanted {
    id: u64,
    filename: String,
}

/// Downloads the missing attachments of every conversation in the manifest.
pub(super) async fn download_all(
    api: &mut ApiProcess,
    store: &mut Store,
    summary: &mut ExportSummary,
) -> Result<(), ExportError> {
    let ids: Vec<String> = store.manifest.conversations.keys().cloned().collect();
    for id in ids {
        let state = store.state(&id)?.clone();
        if state.committed_bytes == 0 {
            continue;
        }
        if let Err(why) = plain_name(&state.chat) {
            warn!(chat = %state.chat, why, "chat name unusable as a folder; attachments skipped");
            continue;
        }
        let file = store.dir().join(&state.file);
        let len = state.committed_bytes;
        let wanted = tokio::task::spawn_blocking(move || attachments_in(&file, len))
            .await
            .map_err(|e| ExportError::Folder(format!("the attachment scan failed: {e}")))??;
        let folder = store.dir().join(ATTACHMENTS_DIR).join(&state.chat);
        let mut fetched = 0;
        for w in wanted {
            if state.failed_downloads.contains_key(&w.id) {
                continue;
            }
            let name = format!("{}-{}", w.id, safe_file_name(&w.filename));
            let dest = folder.join(&name);
            if dest.exists() {
                continue;
            }
            fs::create_dir_all(&folder).map_err(io_at(&folder))?;
            let part = folder.join(format!(".{name}.part"));
            let options = DownloadOptions {
                conversation_id: id.clone(),
                message_id: w.id,
                output: absolute(&part).to_string_lossy().into_owned(),
            };
            match api.call("download", &options).await {
                Ok(_) => {
                    fs::rename(&part, &dest).map_err(io_at(&dest))?;
                    sync_dir(Some(&folder));
                    fetched += 1;
                }
                Err(ClientError::Api { message, .. }) => {
                    warn!(chat = %state.chat, msg = w.id, error = %message,
                        "attachment refused by the service; recorded, not asked again");
                    let _ = fs::remove_file(&part);
                    store.state(&id)?.failed_downloads.insert(w.id, message);
                    store.save()?;
                    summary.attachments_failed += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if fetched > 0 {
            info!(chat = %state.chat, downloaded = fetched, "attachments exported");
        }
        summary.attachments_downloaded += fetched;
    }
    Ok(())
}

/// The attachment messages in the first `len` bytes of `file` that no delete there removes.
fn attachments_in(file: &Path, len: u64) -> Result<Vec<Wanted>, ExportError> {
    let f = File::open(file).map_err(io_at(file))?;
    let mut wanted = Vec::new();
    let mut deleted = BTreeSet::new();
    for line in BufReader::new(f.take(len)).lines() {
        let line = line.map_err(io_at(file))?;
        let Some(msg) = WrapperPeek::of(&line).msg else {
            continue;
        };
        match msg.content.kind.as_str() {
            "attachment" => {
                let filename = msg
                    .content
                    .attachment
                    .and_then(|a| a.object)
                    .map(|o| o.filename)
                    .unwrap_or_default();
                wanted.push(Wanted {
                    id: msg.id,
                    filename,
                });
            }
            "delete" => deleted.extend(
                msg.content
                    .delete
                    .and_then(|d| d.message_ids)
                    .unwrap_or_default(),
            ),
            _ => {}
        }
    }
    wanted.retain(|w| w.id > 0 && !deleted.contains(&w.id));
    wanted.sort_by_key(|w| w.id);
    wanted.dedup_by_key(|w| w.id);
    Ok(wanted)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
