//! `keybase list-following`, `list-followers` and `id` (keybase.md §7.3).

use std::process::ExitCode;

use serde::Serialize;

use crate::{api_loop::fail, gojson, ids, state::Home};

/// Flags and the optional user of these commands.
struct Args {
    user: Option<String>,
    json: bool,
    verbose: bool,
}

fn parse(args: &[String], allow_json: bool) -> Result<Args, String> {
    let mut parsed = Args {
        user: None,
        json: false,
        verbose: false,
    };
    for arg in args {
        match arg.as_str() {
            "-j" | "--json" if allow_json => parsed.json = true,
            "-v" | "--verbose" => parsed.verbose = true,
            "-s" | "-H" | "--headers" => {}
            a if a.starts_with('-') => {
                return Err(format!(
                    "Incorrect Usage: flag provided but not defined: {a}"
                ));
            }
            a if parsed.user.is_none() => parsed.user = Some(a.to_owned()),
            _ => return Err("Incorrect Usage: too many arguments".to_owned()),
        }
    }
    Ok(parsed)
}

#[derive(Serialize)]
struct Followed {
    uid: String,
    username: String,
    link_id: String,
}

/// `list-following [user] [-j] [-v]`: pretty JSON with `-j`, one name per line without.
pub fn following(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("list-following", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        let a = parse(args, true)?;
        let users = home.users()?;
        let who = a.user.unwrap_or_else(|| users.me.clone());
        let list = users.get(&who).following;
        if a.json {
            let rows: Vec<Followed> = list
                .iter()
                .map(|u| Followed {
                    uid: ids::uid(u),
                    username: u.clone(),
                    link_id: ids::conv_id(&who, u, "link"),
                })
                .collect();
            let rows = (!rows.is_empty()).then_some(rows);
            return Ok(gojson::pretty(&rows));
        }
        Ok(list.join("\n"))
    };
    print_or_fail(run())
}

/// `list-followers [user] [-v]`: text only, `-v` adds a tab and the full name; `no followers`
/// when there are none. (There is no `-j`.)
pub fn followers(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("list-followers", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        let a = parse(args, false)?;
        let users = home.users()?;
        let who = a.user.unwrap_or_else(|| users.me.clone());
        let followers: Vec<String> = users
            .users
            .iter()
            .filter(|u| u.following.contains(&who))
            .map(|u| {
                if a.verbose {
                    format!("{}\t{}", u.username, u.full_name)
                } else {
                    u.username.clone()
                }
            })
            .collect();
        if followers.is_empty() {
            return Ok("no followers".to_owned());
        }
        Ok(followers.join("\n"))
    };
    print_or_fail(run())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    username: String,
    last_track: Option<()>,
    cryptocurrencies: Option<()>,
    stellar: Option<()>,
    identify_key: Option<()>,
    proofs: Option<Vec<ProofRow>>,
}

#[derive(Serialize)]
struct ProofRow {
    proof: Proof,
    result: ProofResultRow,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Proof {
    proof_type: u32,
    key: String,
    value: String,
    display_markup: String,
    #[serde(rename = "sigID")]
    sig_id: String,
    m_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProofResultRow {
    proof_id: String,
    proof_result: State,
    snoozed_result: State,
    tor_warning: bool,
    tmp_track_expire_time: i64,
    breaks_tracking: bool,
}

#[derive(Serialize)]
struct State {
    state: u8,
    status: u8,
    desc: String,
}

fn proof_type(service: &str) -> u32 {
    match service {
        "twitter" => 2,
        "github" => 3,
        "reddit" => 4,
        "coinbase" => 5,
        "hackernews" => 6,
        "facebook" => 8,
        "web" | "http" | "https" => 1000,
        "dns" => 1001,
        _ => 9,
    }
}

/// `id [user] -j`: the identity with its proofs, pretty JSON (text without `-j`).
pub fn identify(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("id", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        let a = parse(args, true)?;
        let users = home.users()?;
        let who = a.user.unwrap_or_else(|| users.me.clone());
        let user = users.get(&who);
        if !a.json {
            let lines: Vec<String> = user
                .proofs
                .iter()
                .map(|p| format!("\u{2714} \"{}\" on {}", p.value, p.service))
                .collect();
            return Ok(format!(
                "\u{25b6} INFO Identifying {who}\n{}",
                lines.join("\n")
            ));
        }
        let proofs: Vec<ProofRow> = user
            .proofs
            .iter()
            .map(|p| {
                let sig = ids::conv_id(&who, &p.service, &p.value);
                ProofRow {
                    proof: Proof {
                        proof_type: proof_type(&p.service),
                        key: p.service.clone(),
                        value: p.value.clone(),
                        display_markup: p.value.clone(),
                        sig_id: sig.clone(),
                        m_time: 1_600_000_000_000,
                    },
                    result: ProofResultRow {
                        proof_id: sig[..32].to_owned(),
                        proof_result: State {
                            state: 1,
                            status: 1,
                            desc: String::new(),
                        },
                        snoozed_result: State {
                            state: 0,
                            status: 0,
                            desc: String::new(),
                        },
                        tor_warning: false,
                        tmp_track_expire_time: 0,
                        breaks_tracking: false,
                    },
                }
            })
            .collect();
        Ok(gojson::pretty(&Identity {
            username: who,
            last_track: None,
            cryptocurrencies: None,
            stellar: None,
            identify_key: None,
            proofs: (!proofs.is_empty()).then_some(proofs),
        }))
    };
    print_or_fail(run())
}

/// Prints the output, or the error the CLI way.
pub fn print_or_fail(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WhoAmI {
    configured: bool,
    registered: bool,
    logged_in: bool,
    session_is_valid: bool,
    user: WhoAmIUser,
    device_name: String,
}

#[derive(Serialize)]
struct WhoAmIUser {
    uid: String,
    username: String,
}

/// `whoami [-json]` (keybase.md §7.3): the logged-in user and this device's name; without
/// `-json` the username only.
pub fn whoami(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("whoami", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        let json = match args {
            [] => false,
            [flag] if flag == "-json" || flag == "--json" || flag == "-j" => true,
            _ => return Err("Incorrect Usage: whoami takes only -json".to_owned()),
        };
        let users = home.users()?;
        if !json {
            return Ok(users.me);
        }
        Ok(gojson::line(&WhoAmI {
            configured: true,
            registered: true,
            logged_in: true,
            session_is_valid: true,
            user: WhoAmIUser {
                uid: ids::uid(&users.me),
                username: users.me.clone(),
            },
            device_name: users.get(&users.me).device_name().to_owned(),
        }))
    };
    print_or_fail(run())
}
