//! What a target needs to know about a Keybase chat to create its copy.

use bridge_core::{ChatId, ChatInfo, ChatKind, ChatRef, Platform, UserId};

/// Describes `chat` from its name (and its latest `headline`, the topic).
///
/// `acme.ops#alerts` is the channel `alerts` in the groups `["acme", "ops"]` (the team, then
/// its subteams); `alice,bob` is a direct conversation of alice and bob, named `alice, bob`
/// (readers after a `#`, as in `alice,bob#carol`, are members too).
pub fn describe(chat: &ChatId, headline: Option<&str>) -> ChatInfo {
    let full = chat.as_str();
    let (before, after) = full
        .split_once('#')
        .map_or((full, None), |(b, a)| (b, Some(a)));
    let (name, path, kind) = if before.contains(',') {
        let readers = after.into_iter().flat_map(|a| a.split(','));
        let members: Vec<&str> = before.split(',').chain(readers).collect();
        let ids = members.iter().map(|&m| UserId::new(m)).collect();
        (
            members.join(", "),
            Vec::new(),
            ChatKind::Direct { members: ids },
        )
    } else {
        let path = before.split('.').map(str::to_owned).collect();
        (
            after.unwrap_or("general").to_owned(),
            path,
            ChatKind::Channel,
        )
    };
    ChatInfo {
        chat: ChatRef::new(Platform::Keybase, chat.clone()),
        name,
        topic: headline.filter(|t| !t.is_empty()).map(str::to_owned),
        path,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_members() {
        let info = describe(&ChatId::new("acme.ops.oncall#pager"), Some("wake up"));
        assert_eq!(
            (info.name.as_str(), info.topic.as_deref()),
            ("pager", Some("wake up"))
        );
        assert_eq!(info.path, ["acme", "ops", "oncall"]);
        let dm = describe(&ChatId::new("alice,bob#carol"), Some(""));
        assert_eq!(
            (dm.name.as_str(), dm.topic, dm.path.len()),
            ("alice, bob, carol", None, 0)
        );
        let members = ["alice", "bob", "carol"].map(UserId::new).to_vec();
        assert_eq!(dm.kind, ChatKind::Direct { members });
    }
}
