//! `keybase chat api-listen` (keybase.md §4): streams a `{"type":"chat",…}` line for every
//! message added to the state while it runs (seen within a few ms: the state folder's files
//! are looked at every 5 ms and read again when one changed), each type as-is (edits,
//! deletes, reactions arrive as their own messages), `prev: null`, `UIPagination` in hex.
//! Messages of the logged-in user made on its own device are LOCAL and hidden unless `--local`;
//! the same user's messages from another device are remote. The `listen-die` file makes it exit
//! with "connection to service lost".

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    io::Write,
    path::Path,
    process::ExitCode,
    thread,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};

use crate::{
    api_loop::fail,
    cursor, gojson,
    render::{self, Ctx, MsgSummary},
    state::{Conv, Home},
    world::World,
};

/// A `--filter-channel` value.
#[derive(Debug, Deserialize)]
struct Filter {
    name: String,
    #[serde(default)]
    members_type: Option<String>,
    #[serde(default)]
    topic_name: Option<String>,
}

impl Filter {
    fn matches(&self, conv: &Conv) -> bool {
        self.name == conv.name
            && self
                .members_type
                .as_ref()
                .is_none_or(|m| *m == conv.members_type)
            && self
                .topic_name
                .as_ref()
                .is_none_or(|t| conv.topic_name.as_ref() == Some(t))
    }
}

#[derive(Serialize)]
struct UiPagination {
    next: String,
    previous: String,
    num: u32,
    last: bool,
}

#[derive(Serialize)]
struct Line {
    #[serde(rename = "type")]
    kind: &'static str,
    source: &'static str,
    msg: MsgSummary,
    pagination: UiPagination,
}

struct Flags {
    local: bool,
    filters: Vec<Filter>,
}

fn parse(args: &[String]) -> Result<Flags, String> {
    let mut flags = Flags {
        local: false,
        filters: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match name {
            "--local" => flags.local = true,
            "--hide-exploding" | "--convs" | "--dev" | "--wallet" => {}
            "--filter-channel" => {
                let v = value().ok_or("flag needs an argument: --filter-channel")?;
                let f = serde_json::from_str(&v)
                    .map_err(|_| format!("Channel filter not valid: {v}"))?;
                flags.filters.push(f);
            }
            "--filter-channels" => {
                let v = value().ok_or("flag needs an argument: --filter-channels")?;
                let fs: Vec<Filter> = serde_json::from_str(&v)
                    .map_err(|_| format!("Channel filter not valid: {v}"))?;
                flags.filters.extend(fs);
            }
            a => {
                return Err(format!(
                    "Incorrect Usage: flag provided but not defined: {a}"
                ));
            }
        }
    }
    Ok(flags)
}

/// What api-listen prints when its service goes away (its ping fails), before exiting 1.
const LOST: &str = "connection to service lost: error during ping: dial unix \
    /run/user/1000/keybase/keybased.sock: connect: connection refused (listen-die hook)";

/// Test hook: a `listen-die` file in the state folder makes one running api-listen take it
/// (remove it) and exit as when the service goes away.
fn listen_die_hook(home: &Home) -> bool {
    std::fs::remove_file(home.path("listen-die")).is_ok()
}

/// Runs until killed, until stdout is closed, or until the `listen-die` hook fires.
pub fn listen(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("chat api-listen", "", &serde_json::json!(args));
    let flags = match parse(args) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first = true;
    let mut looked: Option<Fingerprint> = None;
    loop {
        if listen_die_hook(home) {
            return fail(LOST);
        }
        // Reading the whole state is costly; its files' sizes and times are not. A pass is
        // remembered by the look taken before it, so a write still under way then (a line read
        // half written) changes its file again, and that file is read once more.
        let now = fingerprint(&home.dir);
        if looked.as_ref() == Some(&now) {
            thread::sleep(LOOK_EVERY);
            continue;
        }
        let unchanged = |conv: &Conv| {
            let file = home.messages_path(conv).to_string_lossy().into_owned();
            let was = looked.as_ref().and_then(|l| l.get(&file));
            was.is_some() && was == now.get(&file)
        };
        let world = match World::load(home) {
            Ok(w) => w,
            Err(crate::envelope::Fail::Reply(e) | crate::envelope::Fail::Abort(e)) => {
                return fail(&e);
            }
        };
        for conv in world.convs.iter().filter(|c| world.can_read(c)) {
            if !flags.filters.is_empty() && !flags.filters.iter().any(|f| f.matches(conv)) {
                continue;
            }
            // A conversation whose file did not change since the last pass has nothing new.
            if !first && unchanged(conv) {
                continue;
            }
            let Ok(all) = world.messages(conv) else {
                continue;
            };
            let known = seen.insert(conv.id.clone(), all.len()).unwrap_or(0);
            if first || all.len() <= known {
                continue;
            }
            let sizes = world.sizes(conv, &all);
            let ctx = Ctx {
                conv,
                users: &world.users,
                sizes: &sizes,
                listen: true,
            };
            for m in &all[known..] {
                let local = world.is_local(m);
                if local && !flags.local {
                    continue;
                }
                let page = cursor::ui(m.id);
                let line = Line {
                    kind: "chat",
                    source: if local { "local" } else { "remote" },
                    msg: render::summary(m, None, &ctx, &all),
                    pagination: UiPagination {
                        next: page.clone(),
                        previous: page,
                        num: 1,
                        last: false,
                    },
                };
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{}", gojson::line(&line))
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return ExitCode::SUCCESS;
                }
            }
        }
        if first {
            // Subscribed (the first look at the state is taken) before saying so, as the real
            // one registers for notifications before printing this: a client that catches up
            // once it sees the line misses nothing.
            eprintln!(
                "Listening for chat notifications. Config: {{showLocal:{} showNewConvs:false hideExploding:false}}, subscribeDevChannels: false",
                flags.local
            );
            if !flags.filters.is_empty() {
                eprintln!(
                    "Message filtering is active with {} filters",
                    flags.filters.len()
                );
            }
        }
        first = false;
        looked = Some(now);
        thread::sleep(LOOK_EVERY);
    }
}

/// How often the state folder is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// Each file of the state folder and of its `messages` folder, with its size and time.
type Fingerprint = BTreeMap<String, (u64, Option<SystemTime>)>;

/// What the state folder looks like now; a write to any of its files changes it.
fn fingerprint(dir: &Path) -> Fingerprint {
    let mut all = BTreeMap::new();
    for folder in [dir.to_path_buf(), dir.join("messages")] {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                let name = entry.path().to_string_lossy().into_owned();
                all.insert(name, (meta.len(), meta.modified().ok()));
            }
        }
    }
    all
}
