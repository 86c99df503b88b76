//! `keybase chat api`, the reading methods (keybase.md §1.6, §2.5, §2.7, §3) and dispatch; the
//! writing ones are in `chat_write.rs`.

use serde::Serialize;

use crate::{
    chat_write, cursor,
    envelope::{Call, Fail},
    render::{self, Channel, Ctx, MsgSummary, Wrapper},
    state::{Body, Conv, Home},
    team_api,
    world::World,
};

/// Methods of the real handler that the stand-in does not implement (a service error).
const NOT_IMPLEMENTED: [&str; 24] = [
    "setstatus",
    "mark",
    "searchinbox",
    "searchregexp",
    "newconv",
    "join",
    "leave",
    "addtochannel",
    "loadflip",
    "getunfurlsettings",
    "setunfurlsettings",
    "advertisecommands",
    "clearcommands",
    "listcommands",
    "pin",
    "unpin",
    "getresetconvmembers",
    "addresetconvmember",
    "getdeviceinfo",
    "emojiadd",
    "emojiaddalias",
    "emojiremove",
    "emojilist",
    "removefromchannel",
];

/// The page size of a `read` without `pagination.num` (not documented for the real one).
const DEFAULT_NUM: usize = 100;

/// Handles one `chat api` request.
pub fn handle(home: &Home, call: &Call) -> Result<String, Fail> {
    if call.method == "read" {
        crash_hook(home);
    }
    let world = World::load(home)?;
    match call.method.as_str() {
        "list" => list(&world, call),
        "read" => read(&world, call),
        "get" => get(&world, call),
        "listconvsonname" => list_on_name(&world, call),
        "listmembers" => list_members(&world, call),
        "download" => download(&world, call),
        "send" | "edit" | "reaction" | "delete" | "attach" => chat_write::handle(&world, call),
        m if NOT_IMPLEMENTED.contains(&m) => Err(Fail::Reply(format!(
            "{m} is not implemented by the keybase stand-in"
        ))),
        other => Err(Fail::Abort(format!("invalid v1 method {other:?}"))),
    }
}

/// `ConvSummary` (§3).
#[derive(Serialize)]
struct ConvSummary {
    id: String,
    channel: Channel,
    is_default_conv: bool,
    unread: bool,
    active_at: i64,
    active_at_ms: i64,
    member_status: &'static str,
}

/// `ChatList`.
#[derive(Serialize)]
struct ChatList {
    conversations: Vec<ConvSummary>,
    offline: bool,
}

fn conv_summary(world: &World, conv: &Conv) -> Result<ConvSummary, Fail> {
    let active_at_ms = world
        .messages(conv)?
        .iter()
        .map(|m| m.sent_at_ms)
        .max()
        .unwrap_or(0);
    Ok(ConvSummary {
        id: conv.id.clone(),
        channel: Channel::of(conv),
        is_default_conv: conv.topic_name.as_deref() == Some("general"),
        unread: false,
        active_at: active_at_ms.div_euclid(1000),
        active_at_ms,
        member_status: if world.joined(conv) {
            "active"
        } else {
            "never_joined"
        },
    })
}

fn list(world: &World, call: &Call) -> Result<String, Fail> {
    let only = call.options.str("conversation_id")?;
    let mut conversations = Vec::new();
    for conv in world.convs.iter().filter(|c| world.joined(c)) {
        if only.as_ref().is_none_or(|id| *id == conv.id) {
            conversations.push(conv_summary(world, conv)?);
        }
    }
    conversations.sort_by_key(|c| std::cmp::Reverse(c.active_at_ms));
    Ok(call.ok(&ChatList {
        conversations,
        offline: false,
    }))
}

fn list_on_name(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let name = opts.str("name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(Fail::Abort("name required".to_owned()));
    }
    let team_ok = world
        .teams
        .get(&name)
        .is_some_and(|t| t.members.contains_key(world.me()));
    if !team_ok {
        return Err(Fail::Reply(format!("no conversations matched {name:?}")));
    }
    let mut conversations = Vec::new();
    for conv in world
        .convs
        .iter()
        .filter(|c| c.members_type == "team" && c.name == name)
    {
        conversations.push(conv_summary(world, conv)?);
    }
    Ok(call.ok(&ChatList {
        conversations,
        offline: false,
    }))
}

#[derive(Serialize)]
struct Pagination {
    next: Option<String>,
    previous: Option<String>,
    num: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    last: bool,
}

#[derive(Serialize)]
struct Thread {
    messages: Vec<Wrapper>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

fn read(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let pagination = opts.obj("pagination")?;
    let (num, next, previous) = match &pagination {
        Some(p) => (p.u64("num")?, p.str("next")?, p.str("previous")?),
        None => (None, None, None),
    };
    let decode = |c: &Option<String>| match c.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => cursor::decode(c).map(Some).map_err(|e| opts.invalid(&e)),
        None => Ok(None),
    };
    let (before, after) = (decode(&next)?, decode(&previous)?);
    let conv = world.conv_of(opts)?;
    let num = num.map_or(DEFAULT_NUM, |n| n as usize).max(1);
    let all = world.messages(&conv)?;
    let sizes = world.sizes(&conv, &all);
    let ctx = Ctx {
        conv: &conv,
        users: &world.users,
        sizes: &sizes,
        listen: false,
    };
    let thread = render::thread(&all, &ctx);
    let page: Vec<MsgSummary> = match (before, after) {
        (Some(b), _) => thread.into_iter().filter(|m| m.id < b).take(num).collect(),
        (None, Some(a)) => {
            let newer: Vec<MsgSummary> = thread.into_iter().filter(|m| m.id > a).collect();
            let skip = newer.len().saturating_sub(num);
            newer.into_iter().skip(skip).collect()
        }
        (None, None) => thread.into_iter().take(num).collect(),
    };
    // An empty page repeats the cursor it was asked with (clients saw "the same next pointer
    // twice" at the end).
    let pagination = Pagination {
        next: page.last().map(|m| cursor::encode(m.id)).or(next),
        previous: page.first().map(|m| cursor::encode(m.id)).or(previous),
        num: page.len(),
        last: page.len() < num,
    };
    Ok(call.ok(&Thread {
        messages: page.into_iter().map(|msg| Wrapper { msg }).collect(),
        pagination: Some(pagination),
    }))
}

fn get(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let conv = world.conv_of(opts)?;
    let wanted = opts.ids("message_ids")?;
    if wanted.is_empty() {
        return Err(Fail::Abort("message_ids required".to_owned()));
    }
    let all = world.messages(&conv)?;
    let sizes = world.sizes(&conv, &all);
    let ctx = Ctx {
        conv: &conv,
        users: &world.users,
        sizes: &sizes,
        listen: false,
    };
    let thread = render::thread(&all, &ctx);
    let messages = thread
        .into_iter()
        .filter(|m| wanted.contains(&m.id))
        .map(|msg| Wrapper { msg })
        .collect();
    Ok(call.ok(&Thread {
        messages,
        pagination: None,
    }))
}

fn list_members(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let conv = world.conv_of(opts)?;
    let general = conv.topic_name.as_deref() == Some("general");
    let implicit;
    let team = match world.teams.get(&conv.name) {
        Some(t) if conv.members_type == "team" => t,
        _ => {
            let members = conv
                .members
                .iter()
                .map(|m| (m.clone(), "writer".to_owned()));
            implicit = crate::state::Team {
                members: members.collect(),
                open: false,
            };
            &implicit
        }
    };
    let only = (!general).then_some(conv.members.as_slice());
    Ok(call.ok(&team_api::details(world, &conv.name, team, only)))
}

#[derive(Serialize)]
struct Done {
    message: String,
}

fn download(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let conv = world.conv_of(opts)?;
    let id = opts.u64("message_id")?.unwrap_or(0);
    if id == 0 {
        return Err(opts.invalid("invalid message id '0'"));
    }
    let output = opts.str("output")?.unwrap_or_default();
    if output.is_empty() {
        return Err(opts.invalid("empty output filename"));
    }
    if output == "-" {
        return Err(Fail::Reply(
            "output \"-\" (stdout) is not implemented by the keybase stand-in".to_owned(),
        ));
    }
    let all = world.messages(&conv)?;
    let deleted = render::deleted_ids(&all);
    let msg = all
        .iter()
        .find(|m| m.id == id && !deleted.contains(&m.id))
        .ok_or_else(|| Fail::Reply(format!("message {id} not found")))?;
    let Body::Attachment { filename, file, .. } = &msg.body else {
        return Err(Fail::Reply(format!("message {id} is not an attachment")));
    };
    let source = world
        .home
        .attachment_file(&conv, id, filename, file.as_deref());
    std::fs::copy(&source, &output)
        .map_err(|e| Fail::Reply(format!("unable to download attachment {id}: {e}")))?;
    Ok(call.ok(&Done {
        message: format!("attachment downloaded to {output}"),
    }))
}

/// Test hook: when `fail-after-reads` holds N and the request log already has more than N
/// `read` requests, the process "crashes" (stderr, exit 2, no reply), as a dying service would.
fn crash_hook(home: &Home) {
    let Ok(limit) = std::fs::read_to_string(home.path("fail-after-reads")) else {
        return;
    };
    let Ok(limit) = limit.trim().parse::<usize>() else {
        return;
    };
    let log = std::fs::read_to_string(home.path("requests.log")).unwrap_or_default();
    let reads = log
        .lines()
        .filter(|l| l.contains(r#""method":"read""#))
        .count();
    if reads > limit {
        eprintln!("\u{25b6} ERROR simulated crash after {limit} reads (fail-after-reads)");
        std::process::exit(2);
    }
}
