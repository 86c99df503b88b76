//! Every conversation, every page (keybase.md §2.7): `list`, plus `listconvsonname` for each
//! team (so channels not joined and subteams are found too), then for each conversation a pass
//! from the newest message down to what the export already has.
//!
//! A pass reads pages newest first and stops at the first message at or below the
//! conversation's high-water mark, at `last`, at an empty page, or at a repeated cursor. After
//! each page its wrappers are appended and the manifest commits them with the cursor of the
//! next page, so an interrupted pass resumes where it stopped; when the pass ends the
//! high-water mark becomes the newest id it saw. Edits, deletes and reactions made later are
//! new messages above the mark: an incremental run fetches them, and the reader applies them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tracing::{info, warn};

use super::{ExportSummary, error::ExportError, store::Store};
use crate::{
    cli::{
        ApiProcess, ClientError,
        requests::{
            ChatList, ConvSummary, ListOnNameOptions, ListOptions, PageRequest, ReadOptions,
            Thread, WrapperPeek,
        },
    },
    layout::{ConvState, Pass, chat_file},
};

/// Lists every conversation: `list`, then the channels of each team named there or in `teams`.
pub(crate) async fn conversations(
    api: &mut ApiProcess,
    teams: &BTreeSet<String>,
) -> Result<Vec<ConvSummary>, ExportError> {
    let list = api
        .call(
            "list",
            &ListOptions {
                topic_type: Some("chat"),
            },
        )
        .await?;
    let list: ChatList = parse(list.get(), "list")?;
    let mut by_id: BTreeMap<String, ConvSummary> = BTreeMap::new();
    let mut names: BTreeSet<String> = teams.clone();
    for conv in list.conversations.unwrap_or_default() {
        if conv.channel.members_type == "team" {
            names.insert(conv.channel.name.clone());
        }
        by_id.insert(conv.id.clone(), conv);
    }
    for team in names {
        let options = ListOnNameOptions {
            name: team.clone(),
            members_type: "team",
            topic_type: "chat",
        };
        match api.call("listconvsonname", &options).await {
            Ok(raw) => {
                let channels: ChatList = parse(raw.get(), "listconvsonname")?;
                for conv in channels.conversations.unwrap_or_default() {
                    by_id.entry(conv.id.clone()).or_insert(conv);
                }
            }
            Err(e @ ClientError::Api { .. }) => {
                warn!(team = %team, error = %e, "cannot list the team's channels; skipping them");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut convs: Vec<ConvSummary> = by_id.into_values().collect();
    convs.sort_by(|a, b| {
        a.channel
            .chat_name()
            .cmp(&b.channel.chat_name())
            .then(a.id.cmp(&b.id))
    });
    Ok(convs)
}

fn parse<T: serde::de::DeserializeOwned>(raw: &str, method: &str) -> Result<T, ExportError> {
    serde_json::from_str(raw).map_err(|e| {
        ExportError::Client(ClientError::BadReply {
            method: method.to_owned(),
            detail: e.to_string(),
            excerpt: raw.chars().take(200).collect(),
        })
    })
}

/// Exports what is new in `conv`. A service error (the conversation cannot be read) is
/// recorded in the manifest and logged; the export goes on with the next conversation.
pub(super) async fn export_conversation(
    api: &mut ApiProcess,
    store: &mut Store,
    conv: &ConvSummary,
    page_size: u32,
    summary: &mut ExportSummary,
) -> Result<(), ExportError> {
    let chat = conv.channel.chat_name();
    let state = store.conv(&conv.id, || ConvState {
        chat: chat.clone(),
        channel: conv.channel.clone(),
        file: chat_file(&conv.id),
        committed_bytes: 0,
        lines: 0,
        high_water: 0,
        pass: None,
        failed_downloads: BTreeMap::new(),
        error: None,
    });
    state.chat.clone_from(&chat);
    state.channel = conv.channel.clone();
    let floor = state.high_water;
    let (mut next, mut top) = match &state.pass {
        Some(p) => (Some(p.next.clone()), Some(p.top)),
        None => (None, None),
    };
    let resumed = next.is_some();
    let mut used: HashSet<String> = next.iter().cloned().collect();
    let (mut pages, mut added) = (0u64, 0u64);
    loop {
        let options = ReadOptions {
            conversation_id: conv.id.clone(),
            pagination: PageRequest {
                num: page_size,
                next: next.clone(),
            },
            peek: true,
        };
        let raw = match api.call("read", &options).await {
            Ok(raw) => raw,
            Err(ClientError::Api { message, .. }) => {
                warn!(chat = %chat, conversation = %conv.id, error = %message,
                    "cannot read the conversation; skipping it this time");
                store.state(&conv.id)?.error = Some(message);
                store.save()?;
                summary.conversations_failed += 1;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        pages += 1;
        let thread: Thread = parse(raw.get(), "read")?;
        let messages = thread.messages.unwrap_or_default();
        let mut keep: Vec<&str> = Vec::with_capacity(messages.len());
        let mut reached_floor = false;
        let mut newest = 0;
        for wrapper in &messages {
            let id = WrapperPeek::of(wrapper.get()).msg.map_or(0, |m| m.id);
            if id > 0 && id <= floor {
                reached_floor = true;
                break;
            }
            newest = newest.max(id);
            keep.push(wrapper.get());
        }
        let top_now = *top.get_or_insert(newest.max(floor));
        store.append(&conv.id, &keep)?;
        added += keep.len() as u64;
        let page = thread.pagination.unwrap_or_default();
        let cursor = page.next.filter(|c| !c.is_empty());
        let repeated = cursor.as_ref().is_some_and(|c| !used.insert(c.clone()));
        if repeated {
            warn!(chat = %chat, "the same page cursor came back twice; taking it as the end");
        }
        let done =
            reached_floor || page.last || messages.is_empty() || cursor.is_none() || repeated;
        let state = store.state(&conv.id)?;
        state.error = None;
        if done {
            state.high_water = top_now;
            state.pass = None;
        } else {
            state.pass = cursor.clone().map(|next| Pass { top: top_now, next });
        }
        store.save()?;
        if done {
            break;
        }
        next = cursor;
    }
    summary.pages += pages;
    summary.new_messages += added;
    summary.conversations += 1;
    info!(chat = %chat, new = added, pages, resumed, "conversation exported");
    Ok(())
}
