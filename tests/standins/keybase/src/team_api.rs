//! `keybase team api` (keybase.md §5): memberships with numeric roles and statuses, `null`
//! empty role lists, one row per (team, member) for `list-self-memberships`; option problems
//! are error replies, an unknown method or missing options abort.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    envelope::{Call, Fail},
    ids,
    state::{Home, Team},
    world::World,
};

/// A role's number (0 none … 6 restrictedbot).
pub fn role_number(role: &str) -> u8 {
    match role.to_ascii_lowercase().as_str() {
        "reader" => 1,
        "writer" => 2,
        "admin" => 3,
        "owner" => 4,
        "bot" => 5,
        "restrictedbot" => 6,
        _ => 0,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Uv {
    uid: String,
    eldest_seqno: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    uv: Uv,
    username: String,
    full_name: String,
    #[serde(rename = "needsPUK")]
    needs_puk: bool,
    status: u8,
    role: u8,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Members {
    owners: Option<Vec<Member>>,
    admins: Option<Vec<Member>>,
    writers: Option<Vec<Member>>,
    readers: Option<Vec<Member>>,
    bots: Option<Vec<Member>>,
    restricted_bots: Option<Vec<Member>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    open: bool,
    join_as: u8,
}

#[derive(Serialize)]
struct Showcase {
    is_showcased: bool,
    any_member_showcase: bool,
}

/// `TeamDetails` (§5.3).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamDetails {
    name: String,
    members: Members,
    key_generation: u32,
    annotated_active_invites: BTreeMap<String, ()>,
    settings: Settings,
    showcase: Showcase,
}

/// The details of `team`, listing only `only` when given (chat `listmembers`).
pub fn details(world: &World, name: &str, team: &Team, only: Option<&[String]>) -> TeamDetails {
    let mut members = Members::default();
    for (username, role) in &team.members {
        if only.is_some_and(|o| !o.contains(username)) {
            continue;
        }
        let user = world.users.get(username);
        let number = role_number(role);
        let member = Member {
            uv: Uv {
                uid: ids::uid(username),
                eldest_seqno: 1,
            },
            username: username.clone(),
            full_name: user.full_name,
            needs_puk: false,
            status: 0,
            role: number,
        };
        let list = match number {
            4 => &mut members.owners,
            3 => &mut members.admins,
            2 => &mut members.writers,
            5 => &mut members.bots,
            6 => &mut members.restricted_bots,
            _ => &mut members.readers,
        };
        list.get_or_insert_with(Vec::new).push(member);
    }
    TeamDetails {
        name: name.to_owned(),
        members,
        key_generation: 1,
        annotated_active_invites: BTreeMap::new(),
        settings: Settings {
            open: team.open,
            join_as: 1,
        },
        showcase: Showcase {
            is_showcased: false,
            any_member_showcase: false,
        },
    }
}

#[derive(Serialize)]
struct Implicit {
    role: u8,
    ancestor: String,
}

/// `AnnotatedMemberInfo` (§5.2).
#[derive(Serialize)]
struct Annotated {
    uid: String,
    team_id: String,
    username: String,
    full_name: String,
    fq_name: String,
    is_implicit_team: bool,
    implicit_team_display_name: String,
    is_open_team: bool,
    role: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    implicit: Option<Implicit>,
    #[serde(rename = "needsPUK")]
    needs_puk: bool,
    member_count: usize,
    member_eldest_seqno: u32,
    allow_profile_promote: bool,
    is_member_showcased: bool,
    status: u8,
}

#[derive(Serialize)]
struct TeamList {
    teams: Vec<Annotated>,
}

fn row(world: &World, fq: &str, team: &Team, user: &str, role: u8) -> Annotated {
    Annotated {
        uid: ids::uid(user),
        team_id: ids::team_id(fq),
        username: user.to_owned(),
        full_name: world.users.get(user).full_name,
        fq_name: fq.to_owned(),
        is_implicit_team: false,
        implicit_team_display_name: String::new(),
        is_open_team: team.open,
        role,
        implicit: None,
        needs_puk: false,
        member_count: team.members.len(),
        member_eldest_seqno: 1,
        allow_profile_promote: false,
        is_member_showcased: false,
        status: 0,
    }
}

/// Rows for `user`'s teams: explicit memberships, and subteams where an ancestor makes them an
/// implicit admin.
fn user_rows(world: &World, user: &str) -> Vec<Annotated> {
    let mut rows = Vec::new();
    for (fq, team) in &world.teams {
        if let Some(role) = team.members.get(user) {
            rows.push(row(world, fq, team, user, role_number(role)));
            continue;
        }
        let ancestors = fq.match_indices('.').map(|(i, _)| &fq[..i]);
        let mut admin_of = ancestors.filter_map(|a| {
            let role = role_number(world.teams.get(a)?.members.get(user)?);
            (role >= 3).then_some((a, role))
        });
        if let Some((ancestor, role)) = admin_of.next_back() {
            let mut r = row(world, fq, team, user, 0);
            r.implicit = Some(Implicit {
                role,
                ancestor: ids::team_id(ancestor),
            });
            rows.push(r);
        }
    }
    rows
}

/// Handles one `team api` request.
pub fn handle(home: &Home, call: &Call) -> Result<String, Fail> {
    let world = World::load(home)?;
    let opts = &call.options;
    match call.method.as_str() {
        "list-self-memberships" => {
            let me = world.me();
            let mut teams = Vec::new();
            for (fq, team) in world
                .teams
                .iter()
                .filter(|(_, t)| t.members.contains_key(me))
            {
                for (user, role) in &team.members {
                    teams.push(row(&world, fq, team, user, role_number(role)));
                }
            }
            Ok(call.ok(&TeamList { teams }))
        }
        "list-team-memberships" => {
            opts.required()?;
            let name = opts.str("team")?.unwrap_or_default();
            if name.is_empty() {
                return Err(Fail::Reply("team name required".to_owned()));
            }
            let team = world
                .teams
                .get(&name)
                .ok_or_else(|| Fail::Reply(format!("Root team does not exist: {name}")))?;
            let me = world.me();
            let implicit = user_rows(&world, me).iter().any(|r| r.fq_name == name);
            if !team.members.contains_key(me) && !implicit {
                return Err(Fail::Reply(format!("You are not a member of team {name}")));
            }
            Ok(call.ok(&details(&world, &name, team, None)))
        }
        "list-user-memberships" => {
            opts.required()?;
            let user = opts.str("username")?.unwrap_or_default();
            if user.is_empty() {
                return Err(Fail::Reply("username required".to_owned()));
            }
            Ok(call.ok(&TeamList {
                teams: user_rows(&world, &user),
            }))
        }
        "create-team" | "add-members" | "edit-member" | "remove-member" | "rename-subteam"
        | "leave-team" | "list-requests" => Err(Fail::Reply(format!(
            "{} is not implemented by the keybase stand-in",
            call.method
        ))),
        other => Err(Fail::Abort(format!("invalid v1 method {other:?}"))),
    }
}
