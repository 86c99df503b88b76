//! `keybase-standin admin …`: test verbs that change the state between runs without going
//! through the API (messages from other users, edits, deletes), and requests made as another
//! user or device.

use std::process::ExitCode;

use crate::{
    api_loop::{self, ApiFlags, fail},
    chat_api,
    state::{Acting, Home, Stored},
};

/// `admin post CHAT JSON`: appends a stored message (the `messages/*.jsonl` line format, `id`
/// and `sent_at_ms` optional) to the conversation whose file stem is `CHAT`
/// (`acme#general`, `alice,bob`); prints `{"id":N}`.
///
/// `admin as USER[:DEVICE] JSON`: makes one `chat api` request (a full request envelope) as
/// `USER` writing from `DEVICE` (default: their default device), so a test can act as another
/// person or as the logged-in user on their phone, with the service's rules (a repeated
/// reaction toggles off, a delete lists edits and reactions); prints the reply line.
pub fn run(home: &Home, args: &[String]) -> ExitCode {
    if let [verb, who, json] = args {
        if verb == "as" {
            return act_as(home, who, json);
        }
    }
    let result = match args {
        [verb, chat, json] if verb == "post" => post(home, chat, json),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(id) => {
            println!("{{\"id\":{id}}}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

const USAGE: &str =
    "usage: keybase-standin --home DIR admin post CHAT JSON | admin as USER[:DEVICE] JSON";

fn act_as(home: &Home, who: &str, json: &str) -> ExitCode {
    let (user, device) = match who.split_once(':') {
        Some((u, d)) => (u, Some(d.to_owned())),
        None => (who, None),
    };
    let home = Home {
        dir: home.dir.clone(),
        acting: Some(Acting {
            user: user.to_owned(),
            device,
        }),
    };
    let flags = match ApiFlags::parse(&["-m".to_owned(), json.to_owned()]) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    api_loop::serve(&home, "chat api", &flags, chat_api::handle)
}

fn post(home: &Home, chat: &str, json: &str) -> Result<u64, String> {
    let msg: Stored = serde_json::from_str(json).map_err(|e| format!("bad message {json}: {e}"))?;
    let conv = home
        .conversations()?
        .into_iter()
        .find(|c| c.key() == chat)
        .ok_or_else(|| format!("no conversation {chat} in conversations.json"))?;
    Ok(home.append(&conv, msg)?.id)
}
