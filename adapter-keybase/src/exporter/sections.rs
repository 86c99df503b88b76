//! The people side of an export (keybase.md §5, §7.3): `teams.json` (your memberships, then
//! every team's members and roles), `social.json` (who you follow and who follows you),
//! `identity.json` (`keybase id -j`). Replies are stored as received.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::warn;

use super::{error::ExportError, store::Store};
use crate::cli::{ApiProcess, ClientError, KeybaseCli, requests::TeamOptions};

#[derive(Serialize)]
struct TeamsFile {
    /// `list-self-memberships`: one row per (team, member) of your teams.
    self_memberships: Box<RawValue>,
    /// `list-team-memberships` per team (`{"error": …}` when refused).
    teams: BTreeMap<String, Box<RawValue>>,
}

#[derive(Deserialize)]
struct TeamList {
    #[serde(default)]
    teams: Option<Vec<TeamRow>>,
}

#[derive(Deserialize)]
struct TeamRow {
    #[serde(default)]
    fq_name: String,
}

/// Your teams' full names (`acme`, `acme.ops`), from `list-self-memberships`.
pub(super) fn team_names(memberships: &RawValue) -> BTreeSet<String> {
    let list: TeamList =
        serde_json::from_str(memberships.get()).unwrap_or(TeamList { teams: None });
    list.teams
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.fq_name)
        .filter(|n| !n.is_empty())
        .collect()
}

/// `list-self-memberships` (`null` when the service refuses it, with a warning).
pub(super) async fn self_memberships(
    team_api: &mut ApiProcess,
) -> Result<Box<RawValue>, ExportError> {
    match team_api
        .call("list-self-memberships", &serde_json::json!({}))
        .await
    {
        Ok(raw) => Ok(raw),
        Err(e @ ClientError::Api { .. }) => {
            warn!(error = %e, "cannot list your teams");
            Ok(null())
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes `teams.json`.
pub(super) async fn teams(
    team_api: &mut ApiProcess,
    store: &mut Store,
    memberships: Box<RawValue>,
) -> Result<(), ExportError> {
    let mut teams = BTreeMap::new();
    for team in team_names(&memberships) {
        let options = TeamOptions { team: team.clone() };
        let details = match team_api.call("list-team-memberships", &options).await {
            Ok(raw) => raw,
            Err(ClientError::Api { message, .. }) => {
                warn!(team = %team, error = %message, "cannot list the team's members");
                raw(&serde_json::json!({ "error": message }))
            }
            Err(e) => return Err(e.into()),
        };
        teams.insert(team, details);
    }
    let file = TeamsFile {
        self_memberships: memberships,
        teams,
    };
    store.write_section("teams", &file)
}

#[derive(Serialize)]
struct SocialFile {
    /// `list-following -j` as printed (`[{"uid","username","link_id"}]`).
    following: Box<RawValue>,
    /// `list-followers -v`, one entry per line.
    followers: Vec<Follower>,
}

#[derive(Serialize)]
struct Follower {
    username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    full_name: String,
}

/// Writes `social.json`.
pub(super) async fn social(cli: &KeybaseCli, store: &mut Store) -> Result<(), ExportError> {
    let following = cli.run(&["list-following", "-j"]).await?;
    let following = parse_json(&following, "list-following -j")?;
    let followers = cli.run(&["list-followers", "-v"]).await?;
    let file = SocialFile {
        following,
        followers: parse_followers(&followers),
    };
    store.write_section("social", &file)
}

/// `list-followers -v` text: `name<TAB>full name` per line, `no followers` when none.
fn parse_followers(text: &str) -> Vec<Follower> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && *l != "no followers")
        .map(|l| {
            let (name, full) = l.split_once('\t').unwrap_or((l, ""));
            Follower {
                username: name.trim().to_owned(),
                full_name: full.trim().to_owned(),
            }
        })
        .collect()
}

/// Writes `identity.json` (`keybase id -j` of the logged-in user).
pub(super) async fn identity(cli: &KeybaseCli, store: &mut Store) -> Result<(), ExportError> {
    let text = cli.run(&["id", "-j"]).await?;
    let value = parse_json(&text, "id -j")?;
    store.write_section("identity", &value)
}

fn parse_json(text: &str, command: &str) -> Result<Box<RawValue>, ExportError> {
    RawValue::from_string(text.trim().to_owned()).map_err(|e| {
        ExportError::Client(ClientError::BadReply {
            method: command.to_owned(),
            detail: e.to_string(),
            excerpt: text.chars().take(200).collect(),
        })
    })
}

fn raw(value: &serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).unwrap_or_else(|_| null())
}

fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_text_is_parsed() {
        let f = parse_followers("bob\tBob B\ncarol\t\n");
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].username.as_str(), f[0].full_name.as_str()),
            ("bob", "Bob B")
        );
        assert!(parse_followers("no followers\n").is_empty());
    }
}
