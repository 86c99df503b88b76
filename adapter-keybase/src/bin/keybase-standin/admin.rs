//! `keybase-standin admin …`: test verbs that change the state between runs without going
//! through the API (messages from other users, edits, deletes).

use std::process::ExitCode;

use crate::{
    api_loop::fail,
    state::{Home, Stored},
};

/// `admin post CHAT JSON`: appends a stored message (the `messages/*.jsonl` line format, `id`
/// and `sent_at_ms` optional) to the conversation whose file stem is `CHAT`
/// (`acme#general`, `alice,bob`); prints `{"id":N}`.
pub fn run(home: &Home, args: &[String]) -> ExitCode {
    let result = match args {
        [verb, chat, json] if verb == "post" => post(home, chat, json),
        _ => Err("usage: keybase-standin --home DIR admin post CHAT JSON".to_owned()),
    };
    match result {
        Ok(id) => {
            println!("{{\"id\":{id}}}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
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
