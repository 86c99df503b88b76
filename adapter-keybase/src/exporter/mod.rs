//! `kbbridge export`: a Keybase account's history, from the local `keybase` client, into
//! kbbridge's own export folder ([`crate::layout`]), which [`crate::KeybaseExport`] reads.
//!
//! Run it again on the same folder and it fetches only what is new in each conversation
//! (edits, deletes and reactions included, as they are new messages), downloads only missing
//! attachments, and rewrites the other sections; an interrupted run resumes where it stopped.
//!
//! - `chats.rs`: conversations and their pages; `downloads.rs`: attachments;
//!   `sections.rs`: teams, following/followers, identity; `folders.rs`: KBFS and git.
//! - `store.rs`: the folder on disk, written crash-safely; `error.rs`: [`ExportError`].

pub(crate) mod chats;
mod downloads;
mod error;
mod folders;
mod sections;
mod store;

use std::path::PathBuf;

use tracing::{info, warn};

pub use self::error::ExportError;
use self::store::Store;
use crate::cli::{ClientError, KeybaseCli};

/// Messages per `read` page by default (keybase-export found larger pages unreliable).
pub const DEFAULT_PAGE_SIZE: u32 = 300;

/// Which parts to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    /// Every conversation's messages.
    pub chats: bool,
    /// The attachment files of the exported messages.
    pub attachments: bool,
    /// Team memberships and roles (`teams.json`).
    pub teams: bool,
    /// Following and followers (`social.json`).
    pub social: bool,
    /// Identity proofs (`identity.json`).
    pub identity: bool,
    /// The KBFS folder listing (`kbfs.json`).
    pub kbfs: bool,
    /// Git repositories (`git.json`).
    pub git: bool,
}

impl Sections {
    /// Everything.
    pub const ALL: Self = Self {
        chats: true,
        attachments: true,
        teams: true,
        social: true,
        identity: true,
        kbfs: true,
        git: true,
    };

    /// Nothing (to switch single parts on).
    pub const NONE: Self = Self {
        chats: false,
        attachments: false,
        teams: false,
        social: false,
        identity: false,
        kbfs: false,
        git: false,
    };

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        *self == Self::NONE
    }
}

/// What to export, where.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// The export folder (created if needed; an existing export is continued).
    pub out: PathBuf,
    /// The parts to export.
    pub sections: Sections,
    /// Messages per `read` page.
    pub page_size: u32,
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Conversations read completely in this run.
    pub conversations: u64,
    /// Conversations the service refused to read (recorded in the manifest).
    pub conversations_failed: u64,
    /// Messages (wrappers) added to the export.
    pub new_messages: u64,
    /// `read` pages fetched.
    pub pages: u64,
    /// Attachment files downloaded.
    pub attachments_downloaded: u64,
    /// Attachments the service refused (recorded in the manifest).
    pub attachments_failed: u64,
    /// Section files written (`teams`, `social`…).
    pub sections: Vec<String>,
    /// Sections whose command failed (a warning says why; the rest of the export goes on).
    pub sections_failed: Vec<String>,
    /// Requests sent to the `chat api` and `team api` processes.
    pub api_requests: u64,
}

/// Runs an export with `cli` as the `keybase` executable.
///
/// # Errors
/// [`ExportError`]: the folder cannot be used or written, or Keybase stopped answering. What
/// was committed before stays; run again to resume.
pub async fn export(
    cli: &KeybaseCli,
    request: &ExportRequest,
) -> Result<ExportSummary, ExportError> {
    let sections = if request.sections.is_empty() {
        Sections::ALL
    } else {
        request.sections
    };
    let mut store = Store::open(&request.out)?;
    info!(out = %request.out.display(), ?sections, "export started");
    let mut summary = ExportSummary::default();
    let mut api = cli.chat_api();
    let mut team_api = cli.team_api();
    let result = async {
        let memberships = if sections.chats || sections.teams {
            Some(sections::self_memberships(&mut team_api).await?)
        } else {
            None
        };
        if sections.chats {
            let teams = memberships
                .as_deref()
                .map(sections::team_names)
                .unwrap_or_default();
            let convs = chats::conversations(&mut api, &teams).await?;
            info!(conversations = convs.len(), "conversations listed");
            for conv in &convs {
                let size = request.page_size.max(1);
                chats::export_conversation(&mut api, &mut store, conv, size, &mut summary).await?;
            }
        }
        if sections.attachments {
            downloads::download_all(&mut api, &mut store, &mut summary).await?;
        }
        if let (true, Some(m)) = (sections.teams, memberships) {
            let done = sections::teams(&mut team_api, &mut store, m).await;
            note(&mut summary, "teams", done)?;
        }
        if sections.social {
            note(
                &mut summary,
                "social",
                sections::social(cli, &mut store).await,
            )?;
        }
        if sections.identity {
            note(
                &mut summary,
                "identity",
                sections::identity(cli, &mut store).await,
            )?;
        }
        if sections.kbfs {
            note(&mut summary, "kbfs", folders::kbfs(cli, &mut store).await)?;
        }
        if sections.git {
            note(&mut summary, "git", folders::git(cli, &mut store).await)?;
        }
        Ok::<(), ExportError>(())
    }
    .await;
    api.close().await;
    team_api.close().await;
    summary.api_requests = api.requests() + team_api.requests();
    result?;
    store.save()?;
    info!(out = %request.out.display(), conversations = summary.conversations,
        new_messages = summary.new_messages, pages = summary.pages,
        attachments = summary.attachments_downloaded, "export finished");
    Ok(summary)
}

/// Records how a section went: a command that failed (`keybase git list` exiting with an
/// error…) is warned about and skipped; anything else stops the export.
fn note(
    summary: &mut ExportSummary,
    section: &str,
    result: Result<(), ExportError>,
) -> Result<(), ExportError> {
    match result {
        Ok(()) => summary.sections.push(section.to_owned()),
        Err(ExportError::Client(e @ (ClientError::Command { .. } | ClientError::Api { .. }))) => {
            warn!(section, error = %e, "section not exported");
            summary.sections_failed.push(section.to_owned());
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
