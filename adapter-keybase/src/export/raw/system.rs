//! System messages of raw dumps, rendered as keybase-export renders them (so that a notice reads
//! the same whichever export it came from).

use crate::export::node::Node;

/// The text of a `system` content body (`{"systemType": 0, "addedtoteam": {…}}`).
pub(crate) fn render(system: &Node) -> String {
    let Some(Node::Uint(kind)) = system.get("systemType") else {
        return "System message: unknown".to_owned();
    };
    let field = |body: &str, key: &str| -> String {
        let value = system.get(body).and_then(|b| b.get(key));
        value.and_then(Node::as_str).unwrap_or("?").to_owned()
    };
    let role = |body: &str| match system.get(body).and_then(|b| b.get("role")) {
        Some(Node::Uint(n)) => role_suffix(*n),
        _ => "",
    };
    match kind {
        0 => {
            let (adder, addee, team) = (
                field("addedtoteam", "adder"),
                field("addedtoteam", "addee"),
                field("addedtoteam", "team"),
            );
            format!(
                "{adder} added {addee} to the team {team}{}",
                role("addedtoteam")
            )
        }
        1 => {
            let b = "inviteaddedtoteam";
            let (adder, invitee, team, inviter) = (
                field(b, "adder"),
                field(b, "invitee"),
                field(b, "team"),
                field(b, "inviter"),
            );
            format!(
                "{adder} added {invitee} to the team {team}{} (invited by {inviter})",
                role(b)
            )
        }
        2 => format!(
            "{} is now a 'big' team with multiple channels",
            field("complexteam", "team")
        ),
        3 => format!(
            "{} created the team {}",
            field("createteam", "creator"),
            field("createteam", "team")
        ),
        4 => git_push(system),
        5 => format!(
            "{} changed team avatar of {}",
            field("changeavatar", "user"),
            field("changeavatar", "team")
        ),
        6 => format!(
            "{} changed the retention policy",
            field("changeretention", "user")
        ),
        7 => {
            let names = system.get("bulkaddtoconv").and_then(|b| b.get("usernames"));
            let names: Vec<&str> = names
                .and_then(Node::as_array)
                .unwrap_or_default()
                .iter()
                .filter_map(Node::as_str)
                .collect();
            format!("added {} to the conversation", names.join(", "))
        }
        8 => {
            let b = "sbsresolve";
            let (prover, who, service) = (
                field(b, "prover"),
                field(b, "assertionUsername"),
                field(b, "assertionService"),
            );
            format!("{prover} proved they are {who} on {service} and joined the conversation")
        }
        9 => format!(
            "{} created a new channel #{}",
            field("newchannel", "creator"),
            field("newchannel", "nameAtCreation")
        ),
        other => format!("System message: unknown ({other})"),
    }
}

fn git_push(system: &Node) -> String {
    let body = system.get("gitpush");
    let text = |key: &str| {
        body.and_then(|b| b.get(key))
            .and_then(Node::as_str)
            .unwrap_or("?")
    };
    let (repo, pusher) = (text("repoName"), text("pusher"));
    let refs = body
        .and_then(|b| b.get("refs"))
        .and_then(Node::as_array)
        .unwrap_or_default();
    let commits: usize = refs
        .iter()
        .map(|r| {
            r.get("commits")
                .and_then(Node::as_array)
                .map_or(0, <[Node]>::len)
        })
        .sum();
    let names: Vec<&str> = refs
        .iter()
        .filter_map(|r| r.get("refName").and_then(Node::as_str))
        .collect();
    format!(
        "git ({repo}): {pusher} pushed {commits} commits to {}",
        names.join(",")
    )
}

/// keybase1.TeamRole as keybase-export words it.
fn role_suffix(role: u64) -> &'static str {
    match role {
        1 => " as reader",
        2 => " as writer",
        3 => " as admin",
        4 => " as owner",
        5 => " as bot",
        6 => " as restricted bot",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_keybase_export() {
        let node = |json: &str| -> Node { serde_json::from_str(json).unwrap() };
        let added = node(
            r#"{"systemType":0,"addedtoteam":{"team":"acme","adder":"alice","addee":"dave","role":2,"bulkAdds":null}}"#,
        );
        assert_eq!(
            render(&added),
            "alice added dave to the team acme as writer"
        );
        let bulk = node(r#"{"systemType":7,"bulkaddtoconv":{"usernames":["a","b"]}}"#);
        assert_eq!(render(&bulk), "added a, b to the conversation");
        let push = node(
            r#"{"systemType":4,"gitpush":{"repoName":"r","pusher":"p","refs":[{"refName":"refs/heads/main","commits":[{},{}]}]}}"#,
        );
        assert_eq!(
            render(&push),
            "git (r): p pushed 2 commits to refs/heads/main"
        );
        assert_eq!(
            render(&node(r#"{"systemType":42}"#)),
            "System message: unknown (42)"
        );
    }
}
