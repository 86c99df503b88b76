//! Discord's markup for mentions and the like (`<@id>`, `<@&role>`, `<#channel>`,
//! `<:emoji:id>`, `<t:unix:style>`) as text people on the other sides can read: `@name`,
//! `#channel`, `:emoji:`, a date. Names come from the message itself (the users it mentions)
//! and from what the gateway said of the guild (its roles and channels, in GUILD_CREATE); an
//! unknown one becomes a neutral word (`@user`), never a bare number. The guild's threads are
//! known here too, so a message in a thread of a relayed channel is said not to be relayed.

use std::collections::HashMap;

use chrono::DateTime;
use serenity::model::{channel::GuildChannel, guild::Guild, user::User};

/// The guild's role and channel names, as the gateway announced them, and its threads.
#[derive(Clone, Debug, Default)]
pub(crate) struct GuildNames {
    roles: HashMap<u64, String>,
    channels: HashMap<u64, String>,
    /// Thread → (its parent channel, its name).
    threads: HashMap<u64, (u64, String)>,
}

impl GuildNames {
    /// Learns `guild`'s roles and channels (GUILD_CREATE); earlier names are replaced.
    pub(crate) fn learn(&mut self, guild: &Guild) {
        self.roles = guild
            .roles
            .iter()
            .map(|(id, r)| (id.get(), r.name.clone()))
            .collect();
        self.channels = guild
            .channels
            .iter()
            .map(|(id, c)| (id.get(), c.name.clone()))
            .collect();
        self.threads.clear();
        for thread in &guild.threads {
            self.thread(thread);
        }
    }

    /// Learns a thread (GUILD_CREATE's active threads, THREAD_CREATE).
    pub(crate) fn thread(&mut self, thread: &GuildChannel) {
        if let Some(parent) = thread.parent_id {
            self.threads
                .insert(thread.id.get(), (parent.get(), thread.name.clone()));
        }
    }

    /// The parent channel and name of `channel`, when it is a thread.
    pub(crate) fn thread_of(&self, channel: u64) -> Option<(u64, &str)> {
        self.threads
            .get(&channel)
            .map(|(parent, name)| (*parent, name.as_str()))
    }
}

/// `text` with Discord's markup made readable; `mentioned` are the users the message
/// mentions (with their guild nickname where Discord gave their member).
pub(crate) fn readable(text: &str, mentioned: &[User], guild: &GuildNames) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&rest[start..]);
            return out;
        };
        match token(&after[..end], mentioned, guild) {
            Some(shown) => {
                out.push_str(&shown);
                rest = &after[end + 1..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What one `<…>` shows, or `None` when it is not markup Discord renders (kept as typed).
fn token(inner: &str, mentioned: &[User], guild: &GuildNames) -> Option<String> {
    let id = |s: &str| s.parse::<u64>().ok();
    if let Some(role) = inner.strip_prefix("@&") {
        let role = id(role)?;
        let name = guild.roles.get(&role).map_or("role", String::as_str);
        return Some(format!("@{name}"));
    }
    if let Some(user) = inner.strip_prefix('@') {
        let user = id(user.strip_prefix('!').unwrap_or(user))?;
        let name = mentioned.iter().find(|u| u.id.get() == user).map_or_else(
            || "user".to_owned(),
            |u| {
                u.member
                    .as_deref()
                    .and_then(|m| m.nick.clone())
                    .or_else(|| u.global_name.clone())
                    .unwrap_or_else(|| u.name.clone())
            },
        );
        return Some(format!("@{name}"));
    }
    if let Some(channel) = inner.strip_prefix('#') {
        let channel = id(channel)?;
        let name = guild
            .channels
            .get(&channel)
            .map_or("channel", String::as_str);
        return Some(format!("#{name}"));
    }
    if let Some(stamp) = inner.strip_prefix("t:") {
        let secs = stamp
            .split(':')
            .next()
            .and_then(|s| s.parse::<i64>().ok())?;
        let at = DateTime::from_timestamp(secs, 0)?;
        return Some(at.format("%Y-%m-%d %H:%M UTC").to_string());
    }
    // A custom emoji: `:name:id`, animated `a:name:id`.
    let emoji = inner.strip_prefix('a').unwrap_or(inner);
    let mut parts = emoji.strip_prefix(':')?.split(':');
    match (parts.next(), parts.next().and_then(id), parts.next()) {
        (Some(name), Some(_), None) if !name.is_empty() => Some(format!(":{name}:")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(id: u64, name: &str, nick: Option<&str>) -> User {
        let mut v = json!({"id": id.to_string(), "username": name, "discriminator": "0"});
        if let Some(nick) = nick {
            v["member"] = json!({"nick": nick, "roles": [], "joined_at": null, "deaf": false,
                "mute": false, "flags": 0});
        }
        serde_json::from_value(v).unwrap()
    }

    fn guild() -> GuildNames {
        GuildNames {
            roles: HashMap::from([(7, "admins".to_owned())]),
            channels: HashMap::from([(9, "general".to_owned())]),
            threads: HashMap::new(),
        }
    }

    #[test]
    fn mentions_become_names() {
        let mentioned = [user(1, "dana", Some("Dana D")), user(2, "eve", None)];
        let shown = readable(
            "hi <@1> and <@!2>, ask <@&7> in <#9> or <@3> in <#8> <@&6>",
            &mentioned,
            &guild(),
        );
        assert_eq!(
            shown,
            "hi @Dana D and @eve, ask @admins in #general or @user in #channel @role"
        );
    }

    #[test]
    fn emoji_and_times_are_readable_and_the_rest_is_kept() {
        let shown = readable(
            "<:party:123> <a:wave:456> at <t:1700000000:f> <https://x.example> 1 < 2 <@x> <",
            &[],
            &GuildNames::default(),
        );
        assert_eq!(
            shown,
            ":party: :wave: at 2023-11-14 22:13 UTC <https://x.example> 1 < 2 <@x> <"
        );
    }

    #[test]
    fn a_thread_is_known_by_its_parent() {
        let thread: GuildChannel = serde_json::from_value(json!({
            "id": "50", "type": 11, "guild_id": "1", "parent_id": "9", "name": "plans",
            "position": 0, "permission_overwrites": [], "nsfw": false,
        }))
        .unwrap();
        let mut names = guild();
        names.thread(&thread);
        assert_eq!(names.thread_of(50), Some((9, "plans")));
        assert_eq!(names.thread_of(9), None);
    }
}
