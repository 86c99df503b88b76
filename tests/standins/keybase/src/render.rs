//! Stored messages as the API shows them: `MsgSummary` (keybase.md §2.2–2.6) with Go's field
//! order, omitted-empty fields and `null` slices, and the thread view of `read` (§2.5): newest
//! first, edits folded in, deleted messages gone, reactions aggregated, superseding messages
//! still listed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::{
    content::{Content, content},
    ids,
    state::{Body, Conv, Stored, Users},
};

/// `ChatChannel`.
#[derive(Clone, Debug, Serialize)]
pub struct Channel {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    pub members_type: String,
    pub topic_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
}

impl Channel {
    /// The channel of `conv`.
    pub fn of(conv: &Conv) -> Self {
        Self {
            name: conv.name.clone(),
            public: false,
            members_type: conv.members_type.clone(),
            topic_type: "chat",
            topic_name: conv.topic_name.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct MsgSender {
    uid: String,
    username: String,
    device_id: String,
    device_name: String,
}

#[derive(Debug, Serialize)]
struct Prev {
    id: u64,
    hash: String,
}

/// `MsgSummary`.
#[derive(Debug, Serialize)]
pub struct MsgSummary {
    pub id: u64,
    conversation_id: String,
    channel: Channel,
    sender: MsgSender,
    sent_at: i64,
    sent_at_ms: i64,
    content: Content,
    /// `[]` in `read`, `null` in api-listen.
    prev: Option<Vec<Prev>>,
    unread: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reactions: Option<ReactionMap>,
    channel_mention: &'static str,
}

/// `{"reactions": {emoji: {"decorated", "users": {name: {"ctime", "reactionMsgID"}}}}}`; Go
/// writes map keys sorted, as `BTreeMap` does.
#[derive(Debug, Default, Serialize)]
pub struct ReactionMap {
    reactions: BTreeMap<String, ReactionEntry>,
}

#[derive(Debug, Serialize)]
struct ReactionEntry {
    decorated: String,
    users: BTreeMap<String, ReactionUser>,
}

#[derive(Debug, Serialize)]
struct ReactionUser {
    ctime: i64,
    #[serde(rename = "reactionMsgID")]
    reaction_msg_id: u64,
}

/// A `{"msg": …}` wrapper of `read`.
#[derive(Debug, Serialize)]
pub struct Wrapper {
    pub msg: MsgSummary,
}

/// What [`summary`] needs besides the message.
pub struct Ctx<'a> {
    pub conv: &'a Conv,
    pub users: &'a Users,
    /// Sizes of attachment files, by message id.
    pub sizes: &'a HashMap<u64, u64>,
    /// `true` for api-listen (`prev: null`).
    pub listen: bool,
}

/// The thread as `read` shows it, newest first.
pub fn thread(all: &[Stored], ctx: &Ctx<'_>) -> Vec<MsgSummary> {
    let deleted = deleted_ids(all);
    let mut edits: HashMap<u64, &Stored> = HashMap::new();
    let mut reactions: HashMap<u64, ReactionMap> = HashMap::new();
    for m in all.iter().filter(|m| !deleted.contains(&m.id)) {
        match &m.body {
            Body::Edit { target, .. } => {
                let newer = edits.get(target).is_none_or(|e| e.id < m.id);
                if newer {
                    edits.insert(*target, m);
                }
            }
            Body::Reaction { target, emoji } => {
                let entry = reactions.entry(*target).or_default();
                let e = entry
                    .reactions
                    .entry(emoji.clone())
                    .or_insert_with(|| ReactionEntry {
                        decorated: emoji.clone(),
                        users: BTreeMap::new(),
                    });
                let user = ReactionUser {
                    ctime: m.sent_at_ms,
                    reaction_msg_id: m.id,
                };
                e.users.insert(m.sender.clone(), user);
            }
            _ => {}
        }
    }
    let mut visible: Vec<&Stored> = all.iter().filter(|m| !deleted.contains(&m.id)).collect();
    visible.sort_by_key(|m| std::cmp::Reverse(m.id));
    visible
        .into_iter()
        .map(|m| {
            let edit = edits.get(&m.id).map(|e| match &e.body {
                Body::Edit { body, .. } => body.as_str(),
                _ => "",
            });
            let mut s = summary(m, edit, ctx, all);
            s.reactions = reactions.remove(&m.id);
            s
        })
        .collect()
}

/// The ids removed by deletes: what each delete lists ([`delete_list`]).
pub fn deleted_ids(all: &[Stored]) -> BTreeSet<u64> {
    all.iter()
        .filter_map(|m| match &m.body {
            Body::Delete { targets } => Some(delete_list(all, m.id, targets)),
            _ => None,
        })
        .flatten()
        .collect()
}

/// What the delete `delete_id` of `targets` lists, as the service fills it in
/// (`go/chat/sender.go getAllDeletedEdits`): the targets, their edits, and their reactions
/// still standing when it was made (a reaction taken back earlier is not listed again).
pub fn delete_list(all: &[Stored], delete_id: u64, targets: &[u64]) -> BTreeSet<u64> {
    let taken_back: BTreeSet<u64> = all
        .iter()
        .filter(|m| m.id < delete_id)
        .filter_map(|m| match &m.body {
            Body::Delete { targets } => Some(targets.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut ids: BTreeSet<u64> = targets.iter().copied().collect();
    for m in all {
        match &m.body {
            Body::Edit { target, .. } if targets.contains(target) => {
                ids.insert(m.id);
            }
            Body::Reaction { target, .. }
                if targets.contains(target) && m.id < delete_id && !taken_back.contains(&m.id) =>
            {
                ids.insert(m.id);
            }
            _ => {}
        }
    }
    ids
}

/// One message as a `MsgSummary`, with `edit` as its folded body when edited.
pub fn summary(m: &Stored, edit: Option<&str>, ctx: &Ctx<'_>, all: &[Stored]) -> MsgSummary {
    let device = match &m.device {
        Some(d) => d.clone(),
        None => ctx.users.get(&m.sender).device_name().to_owned(),
    };
    let content = content(m, edit, ctx, all);
    MsgSummary {
        id: m.id,
        conversation_id: ctx.conv.id.clone(),
        channel: Channel::of(ctx.conv),
        sender: MsgSender {
            uid: ids::uid(&m.sender),
            username: m.sender.clone(),
            device_id: ids::device_id(&m.sender, &device),
            device_name: device,
        },
        sent_at: m.sent_at_ms.div_euclid(1000),
        sent_at_ms: m.sent_at_ms,
        content,
        prev: (!ctx.listen).then(Vec::new),
        unread: false,
        reactions: None,
        channel_mention: "none",
    }
}
