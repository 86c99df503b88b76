//! `keybase chat api`, the writing methods (keybase.md §1.6): `send` (with `reply_to`,
//! `nonblock`), `edit`, `reaction` (a repeated one toggles off: a delete of the earlier
//! reaction), `delete` (which lists the target's edits and reactions too), `attach`. Each appends
//! a stored message from the acting user and device (the logged-in user's own, or `admin as`).

use serde::Serialize;

use crate::{
    envelope::{Call, Fail, Opts},
    ids, render,
    state::{Body, Conv, Stored},
    world::World,
};

#[derive(Serialize)]
struct SendRes {
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outbox_id: Option<String>,
}

/// Handles `send`, `edit`, `reaction`, `delete` and `attach`.
pub fn handle(world: &World, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    opts.required()?;
    let conv = world.conv_of(opts)?;
    let (message, body, nonblock) = match call.method.as_str() {
        "send" => {
            let body = message_body(opts)?;
            let reply_to = opts.u64("reply_to")?.filter(|&r| r > 0);
            (
                "message sent",
                Body::Text { body, reply_to },
                opts.bool("nonblock")?,
            )
        }
        "edit" => {
            let target = target(world, &conv, opts, "edit")?;
            let body = message_body(opts)?;
            ("message edited", Body::Edit { target, body }, false)
        }
        "reaction" => {
            let target = target(world, &conv, opts, "react to")?;
            let emoji = message_body(opts)?;
            // A repeated reaction toggles off: the service turns it into a delete of the
            // earlier reaction message (`go/chat/sender.go processReactionMessage`).
            let body = match own_reaction(world, &conv, target, &emoji)? {
                Some(earlier) => Body::Delete {
                    targets: vec![earlier],
                },
                None => Body::Reaction { target, emoji },
            };
            ("message reacted to", body, false)
        }
        "delete" => {
            let target = target(world, &conv, opts, "delete")?;
            let all = world.messages(&conv)?;
            // The service lists the target's edits and reactions in the delete.
            let targets = render::delete_list(&all, u64::MAX, &[target])
                .into_iter()
                .collect();
            ("message deleted", Body::Delete { targets }, false)
        }
        "attach" => return attach(world, &conv, call),
        other => return Err(Fail::Abort(format!("invalid v1 method {other:?}"))),
    };
    let stored = append(world, &conv, body)?;
    let res = if nonblock {
        SendRes {
            message,
            id: None,
            outbox_id: Some(ids::base64_of(&[
                "outbox",
                &conv.id,
                &stored.id.to_string(),
            ])),
        }
    } else {
        SendRes {
            message,
            id: Some(stored.id),
            outbox_id: None,
        }
    };
    Ok(call.ok(&res))
}

fn message_body(opts: &Opts) -> Result<String, Fail> {
    let body = match opts.obj("message")? {
        Some(m) => m.str("body")?.unwrap_or_default(),
        None => String::new(),
    };
    if body.is_empty() {
        return Err(opts.invalid("invalid message, body cannot be empty"));
    }
    Ok(body)
}

/// The `message_id` of an edit, reaction or delete: non-zero, and a visible message.
fn target(world: &World, conv: &Conv, opts: &Opts, what: &str) -> Result<u64, Fail> {
    let id = opts.u64("message_id")?.unwrap_or(0);
    if id == 0 {
        return Err(opts.invalid("invalid message id '0'"));
    }
    let all = world.messages(conv)?;
    let deleted = render::deleted_ids(&all);
    if !all.iter().any(|m| m.id == id && !deleted.contains(&m.id)) {
        return Err(Fail::Reply(format!(
            "cannot {what} message {id}: not found"
        )));
    }
    Ok(id)
}

/// The acting user's standing reaction `emoji` on `target`, if any.
fn own_reaction(world: &World, conv: &Conv, target: u64, emoji: &str) -> Result<Option<u64>, Fail> {
    let all = world.messages(conv)?;
    let deleted = render::deleted_ids(&all);
    Ok(all
        .iter()
        .filter(|m| m.sender == world.me() && !deleted.contains(&m.id))
        .find(|m| matches!(&m.body, Body::Reaction { target: t, emoji: e } if *t == target && e == emoji))
        .map(|m| m.id))
}

fn append(world: &World, conv: &Conv, body: Body) -> Result<Stored, Fail> {
    let msg = Stored {
        id: 0,
        sender: world.me().to_owned(),
        device: Some(world.device()),
        sent_at_ms: now_ms(),
        body,
    };
    world.home.append(conv, msg).map_err(Fail::Reply)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn attach(world: &World, conv: &Conv, call: &Call) -> Result<String, Fail> {
    let opts = &call.options;
    let source = opts.str("filename")?.unwrap_or_default();
    if source.is_empty() {
        return Err(opts.invalid("empty filename"));
    }
    let title = opts.str("title")?.unwrap_or_default();
    let filename = std::path::Path::new(&source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let stored = world
        .home
        .append_numbered(conv, |id| {
            let dest = world.home.attachment_file(conv, id, &filename, None);
            let copy = || -> std::io::Result<u64> {
                if let Some(dir) = dest.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::copy(&source, &dest)
            };
            copy().map_err(|e| format!("unable to upload {source}: {e}"))?;
            Ok(Stored {
                id,
                sender: world.me().to_owned(),
                device: Some(world.device()),
                sent_at_ms: now_ms(),
                body: Body::Attachment {
                    filename: filename.clone(),
                    title,
                    file: None,
                },
            })
        })
        .map_err(Fail::Reply)?;
    let id = stored.id;
    Ok(call.ok(&SendRes {
        message: "attachment sent",
        id: Some(id),
        outbox_id: None,
    }))
}
