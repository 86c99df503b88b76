//! `keybase-standin`: a stand-in `keybase` executable for tests (test equipment, see
//! `STANDIN.md`; tests find it with this package's library, `lib.rs`). It speaks the JSON APIs
//! of keybase.md from a folder of JSON files (`--home DIR` or `$KEYBASE_STANDIN_HOME`) and logs
//! every request to `DIR/requests.log`.
//!
//! Layout: `api_loop.rs` (the `chat api`/`team api` request loop), `envelope.rs` (request and
//! reply envelopes), `chat_api.rs` / `chat_write.rs` (chat methods), `render.rs` / `content.rs` (messages as
//! the API shows them), `cursor.rs` (pagination cursors), `team_api.rs`, `users.rs`
//! (following, followers, id), `kbfs.rs` (`fs ls`, `git list`), `listen.rs` (`api-listen`),
//! `admin.rs` (test verbs), `state.rs` / `world.rs` (the state folder), `ids.rs`, `gojson.rs`.

mod admin;
mod api_loop;
mod chat_api;
mod chat_write;
mod content;
mod cursor;
mod envelope;
mod gojson;
mod ids;
mod kbfs;
mod listen;
mod render;
mod state;
mod team_api;
mod users;
mod world;

use std::{path::PathBuf, process::ExitCode};

use crate::{api_loop::ApiFlags, state::Home};

const USAGE: &str = "usage: keybase-standin [--home DIR] <chat api | chat api-listen | team api | \
    list-following | list-followers | id | git list | fs ls | whoami | admin post | admin as> [args]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut home = std::env::var_os("KEYBASE_STANDIN_HOME").map(PathBuf::from);
    // Global flags come before the command.
    while let Some(first) = args.first().cloned() {
        if first == "--home" && args.len() > 1 {
            home = Some(PathBuf::from(&args[1]));
            args.drain(..2);
        } else if let Some(dir) = first.strip_prefix("--home=") {
            home = Some(PathBuf::from(dir));
            args.remove(0);
        } else if first.starts_with('-') {
            // Other global flags of the real CLI (`--debug`, `--no-auto-fork`…) are ignored.
            args.remove(0);
        } else {
            break;
        }
    }
    let Some(dir) = home else {
        return api_loop::fail(
            "the stand-in needs its state folder: --home DIR or KEYBASE_STANDIN_HOME",
        );
    };
    let home = Home { dir, acting: None };
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["chat", "api", rest @ ..] | ["team", "api", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
            let flags = match ApiFlags::parse(&rest) {
                Ok(f) => f,
                Err(e) => return api_loop::fail(&e),
            };
            if words[0] == "chat" {
                api_loop::serve(&home, "chat api", &flags, chat_api::handle)
            } else {
                api_loop::serve(&home, "team api", &flags, team_api::handle)
            }
        }
        ["chat", "api-listen", ..] => listen::listen(&home, &args[2..]),
        ["list-following", ..] => users::following(&home, &args[1..]),
        ["list-followers", ..] => users::followers(&home, &args[1..]),
        ["id", ..] => users::identify(&home, &args[1..]),
        ["git", "list", ..] => kbfs::git_list(&home, &args[2..]),
        ["fs", "ls", ..] => kbfs::ls(&home, &args[2..]),
        ["whoami", ..] => users::whoami(&home, &args[1..]),
        ["admin", ..] => admin::run(&home, &args[1..]),
        _ => api_loop::fail(USAGE),
    }
}
