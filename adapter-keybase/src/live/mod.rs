//! The Keybase live side (relay.md §3, §7.1): what happens on Keybase as it happens, and
//! catching up what was said while nothing listened. The relay engine (bridge-core) drives
//! it; nothing here knows the other platforms.
//!
//! - `listen.rs`: [`ApiListen`], one supervised `keybase chat api-listen` for the whole
//!   account, restarted with backoff; every start is reported ([`ListenItem::Started`]) so the
//!   caller catches up.
//! - `event.rs`: [`EventReader`], a `MsgSummary` → core events ([`LiveEvent`]: the event, its
//!   position, the Keybase id of the thing itself, `local`), delete lists expanded.
//! - `catchup.rs`: [`catch_up`], a conversation's messages strictly after a position.
//! - `feed.rs`: [`KeybaseFeed`], both as one stream per followed conversation, caught up at
//!   every start of api-listen, with no gap and no repeat.
//! - `identity.rs`: [`Identity`], this client's user and device (`whoami -json`), for
//!   `local` in a catch-up.
//! - `download.rs`: [`Downloader`], attachments of live messages fetched when a sink reads
//!   them.
//!
//! What the core model does not carry yet travels beside each event in [`LiveEvent`]: the
//! position (the Keybase id a catch-up continues after), the reaction message's own id (what
//! an un-reaction deletes), and `local` (made on this device: an echo of kbbridge's sends).

mod catchup;
mod download;
mod event;
mod feed;
mod identity;
mod listen;
mod summary;

use std::collections::{BTreeMap, BTreeSet};

use bridge_core::ChatId;
use tracing::warn;

pub use self::{
    catchup::{CatchUp, catch_up, newest_id},
    download::{Downloader, KeybaseBlob},
    event::{EventReader, LineError, LiveEvent},
    feed::{FeedError, FeedItem, Followed, KeybaseFeed},
    identity::Identity,
    listen::{ApiListen, ListenError, ListenItem, ListenOptions},
};
use crate::{
    cli::{ApiProcess, ClientError, requests::ConvSummary},
    exporter::{ExportError, chats},
};

/// Every conversation the account has, as the exporter lists them.
async fn list_all(
    api: &mut ApiProcess,
    teams: &BTreeSet<String>,
) -> Result<Vec<ConvSummary>, ClientError> {
    chats::conversations(api, teams).await.map_err(|e| match e {
        ExportError::Client(c) => c,
        other => ClientError::BadReply {
            method: "list".to_owned(),
            detail: other.to_string(),
            excerpt: String::new(),
        },
    })
}

/// Every chat this account has (kbbridge's names), as the exporter lists them (`list`, plus the
/// channels of every team named there or in `teams`, joined or not): what a pattern link
/// (`acme#*`) names when no export lists the chats.
///
/// # Errors
/// The client's errors.
pub async fn all_chats(
    api: &mut ApiProcess,
    teams: &BTreeSet<String>,
) -> Result<Vec<ChatId>, ClientError> {
    let all = list_all(api, teams).await?;
    let mut names: Vec<ChatId> = all
        .iter()
        .map(|c| ChatId::new(c.channel.chat_name()))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The conversations of `chats` (kbbridge's names: `acme#general`, `alice,bob`), found as
/// the exporter finds them (`list`, plus `listconvsonname` for each team, so channels not
/// joined are found too): their conversation ids and channels, by chat. A chat not listed
/// under its name is looked for by the id `known` gives it (found at an earlier start): a
/// channel renamed since is found again.
///
/// # Errors
/// The client's errors; [`ClientError::Api`] naming the chats that Keybase does not list for
/// this account under their name or known id.
pub async fn find_conversations(
    api: &mut ApiProcess,
    chats: &[ChatId],
    known: &BTreeMap<ChatId, String>,
) -> Result<BTreeMap<ChatId, ConvSummary>, ClientError> {
    let teams: BTreeSet<String> = chats
        .iter()
        .filter_map(|c| c.as_str().split_once('#').map(|(team, _)| team.to_owned()))
        .collect();
    let all = list_all(api, &teams).await?;
    let mut found = BTreeMap::new();
    for conv in &all {
        let chat = ChatId::new(conv.channel.chat_name());
        if chats.contains(&chat) {
            found.insert(chat, conv.clone());
        }
    }
    for chat in chats {
        if found.contains_key(chat) {
            continue;
        }
        let Some(id) = known.get(chat) else { continue };
        if let Some(conv) = all.iter().find(|c| &c.id == id) {
            warn!(chat = %chat, now = %conv.channel.chat_name(), conversation = %id,
                "this Keybase chat was renamed; it is still relayed (write its new name in the \
                 mapping file to silence this)");
            found.insert(chat.clone(), conv.clone());
        }
    }
    let missing: Vec<&str> = chats
        .iter()
        .filter(|c| !found.contains_key(*c))
        .map(ChatId::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ClientError::Api {
            method: "list".to_owned(),
            code: 0,
            message: format!(
                "keybase lists no conversation {} for this account; check the link's `keybase` \
                 name and that the account is a member",
                missing.join(", ")
            ),
        });
    }
    Ok(found)
}
