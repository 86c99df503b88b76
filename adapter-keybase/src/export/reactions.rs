//! Reactions as keybase-export wrote them, in both historical shapes, with mangled keys.
//!
//! keybase-bot runs lodash `camelCase` over the reply's keys, so emoji keys are mangled
//! (`:+1:` → `1`, `:tada:` → `tada`, `:grinning_face:` → `grinningFace`) and so are the user
//! names below them (`the_bob` → `theBob`).
//! * Current shape (Keybase ≥ 5.4, 2020): `{"tada":{"decorated":":tada:","users":{"carol":{…}}}}`:
//!   the emoji comes back exactly from `decorated`.
//! * Pre-2020 shape: `{"tada":{"carol":{…}}}`: only the mangled key is left; it is kept as
//!   found with [`Reaction::exact`] `= false`, and counted.
//!
//! User names are recovered where the export itself shows the real name: a reacting `theBob`
//! becomes `the_bob` when `the_bob` sent a message in the export (and no other sender mangles to
//! the same name). Names never seen stay as found.

use std::collections::{HashMap, HashSet};

use bridge_core::{Reaction, Sender, UserId};
use chrono::{DateTime, Utc};

use super::node::Node;

/// The senders seen in the export, to undo the camel-casing of reacting users' names.
#[derive(Debug, Default)]
pub(crate) struct UserNames {
    known: HashSet<String>,
    /// camelCase(name) → name; `None` when two names mangle alike.
    camel: HashMap<String, Option<String>>,
}

impl UserNames {
    /// Records a sender's real name.
    pub(crate) fn observe(&mut self, name: &str) {
        if self.known.contains(name) {
            return;
        }
        self.known.insert(name.to_owned());
        if let Some(camel) = camel_case(name).filter(|c| c != name) {
            self.camel
                .entry(camel)
                .and_modify(|real| {
                    if real.as_deref() != Some(name) {
                        *real = None;
                    }
                })
                .or_insert_with(|| Some(name.to_owned()));
        }
    }

    /// The real name behind a (possibly camel-cased) name from a reaction.
    pub(crate) fn resolve<'a>(&'a self, name: &'a str) -> &'a str {
        if self.known.contains(name) {
            return name;
        }
        match self.camel.get(name) {
            Some(Some(real)) => real,
            _ => name,
        }
    }
}

/// lodash `camelCase` for a Keybase username (`[a-z0-9_]`): words are runs of letters or of
/// digits, the first kept lower-case, the others capitalised. `None` for other names.
pub(crate) fn camel_case(name: &str) -> Option<String> {
    let valid = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    if !name.bytes().all(valid) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    for (n, word) in words(name).enumerate() {
        let mut chars = word.chars();
        if let (true, Some(first)) = (n > 0, chars.next()) {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        } else {
            out.push_str(word);
        }
    }
    Some(out)
}

/// Runs of letters or of digits, split at `_` and at letter/digit boundaries.
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split('_').filter(|w| !w.is_empty()).flat_map(|w| {
        let mut parts = Vec::new();
        let mut start = 0;
        let bytes = w.as_bytes();
        for i in 1..bytes.len() {
            if bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                parts.push(&w[start..i]);
                start = i;
            }
        }
        parts.push(&w[start..]);
        parts
    })
}

/// The reactions of one line, with what was lost on the way.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    /// One entry per emoji, users in file order.
    pub reactions: Vec<Reaction>,
    /// Entries of the pre-2020 shape.
    pub old_shape: u64,
    /// Current-shape entries without a usable `decorated`.
    pub undecorated: u64,
    /// Entries (or the whole field) that could not be read, described.
    pub problems: Vec<String>,
}

/// Reads a line's `reactions` field; `exact_keys` when the keys are the emoji as sent (raw API
/// dumps), not keybase-export's camel-cased ones.
pub(crate) fn convert(node: &Node, names: &UserNames, exact_keys: bool) -> Converted {
    let mut out = Converted::default();
    let Some(mut entries) = node.as_object() else {
        out.problems.push(format!(
            "reactions is a {}, expected an object",
            node.kind()
        ));
        return out;
    };
    // The raw API nests the map one level deeper; accept that too.
    if let [(key, Node::Object(inner))] = entries {
        if key == "reactions" {
            entries = inner;
        }
    }
    for (key, value) in entries {
        let Some((emoji, exact, users)) = entry(key, value, exact_keys, &mut out) else {
            continue;
        };
        let (users, times): (Vec<Sender>, Vec<Option<DateTime<Utc>>>) = users
            .into_iter()
            .map(|(u, ctime)| {
                let name = names.resolve(u).to_owned();
                let sender = Sender {
                    id: UserId::new(name.clone()),
                    name,
                    avatar: None,
                };
                (sender, ctime)
            })
            .unzip();
        if users.is_empty() {
            continue;
        }
        match out
            .reactions
            .iter_mut()
            .find(|r| r.emoji == emoji && r.exact == exact)
        {
            Some(same) => {
                for (u, t) in users.into_iter().zip(times) {
                    if !same.users.contains(&u) {
                        same.times.resize(same.users.len(), None);
                        same.users.push(u);
                        same.times.push(t);
                    }
                }
            }
            None => out.reactions.push(Reaction {
                emoji,
                exact,
                users,
                times,
            }),
        }
    }
    out
}

/// A reacting user's name, and when they reacted where the export says.
type Reacted<'a> = (&'a str, Option<DateTime<Utc>>);

/// A reacting user's entry → when they reacted (`ctime`, in milliseconds), if it says.
fn ctime(user: &Node) -> Option<DateTime<Utc>> {
    match user.get("ctime")? {
        Node::Uint(ms) => i64::try_from(*ms)
            .ok()
            .filter(|ms| *ms > 0)
            .and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// One `key: value` entry → (emoji, exact, user names with when they reacted), counting
/// inexact entries.
fn entry<'a>(
    key: &'a str,
    value: &'a Node,
    exact_keys: bool,
    out: &mut Converted,
) -> Option<(String, bool, Vec<Reacted<'a>>)> {
    let all_objects =
        |entries: &[(String, Node)]| entries.iter().all(|(_, v)| matches!(v, Node::Object(_)));
    let Some(fields) = value.as_object() else {
        out.problems.push(format!(
            "reaction `{key}` is a {}, expected an object",
            value.kind()
        ));
        return None;
    };
    let (emoji, exact, users) = match value.get("users").and_then(Node::as_object) {
        Some(users) if all_objects(users) => {
            let users = users.iter().map(|(u, v)| (u.as_str(), ctime(v))).collect();
            match value.get("decorated").and_then(Node::as_str) {
                Some(d) if !d.trim().is_empty() && !d.contains("$>kb$") => {
                    (d.to_owned(), true, users)
                }
                _ if exact_keys => (key.to_owned(), true, users),
                _ => {
                    out.undecorated += 1;
                    (key.to_owned(), false, users)
                }
            }
        }
        _ if all_objects(fields) => {
            out.old_shape += u64::from(!exact_keys);
            (
                key.to_owned(),
                exact_keys,
                fields.iter().map(|(u, v)| (u.as_str(), ctime(v))).collect(),
            )
        }
        _ => {
            out.problems
                .push(format!("reaction `{key}` has an unknown shape"));
            return None;
        }
    };
    if emoji.is_empty() {
        out.problems
            .push("a reaction with an empty key and no decorated emoji".to_owned());
        return None;
    }
    Some((emoji, exact, users))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(json: &str) -> Node {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn camel_cases_like_lodash() {
        assert_eq!(camel_case("the_bob").as_deref(), Some("theBob"));
        assert_eq!(camel_case("bob2x").as_deref(), Some("bob2X"));
        assert_eq!(camel_case("dave99").as_deref(), Some("dave99"));
        assert_eq!(camel_case("_a__b_").as_deref(), Some("aB"));
        assert_eq!(camel_case("Émile"), None);
    }

    #[test]
    fn reads_both_shapes_and_recovers_names() {
        let mut names = UserNames::default();
        names.observe("carol_x");
        let new = node(
            r#"{"tada":{"decorated":":tada:","users":{"carolX":{"ctime":1},"bob":{"ctime":2}}},
                "1":{"users":{"bob":{}}}}"#,
        );
        let c = convert(&new, &names, false);
        assert_eq!(c.reactions.len(), 2);
        assert_eq!(
            (c.reactions[0].emoji.as_str(), c.reactions[0].exact),
            (":tada:", true)
        );
        let who: Vec<_> = c.reactions[0]
            .users
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(who, ["carol_x", "bob"]);
        let ms = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        assert_eq!(ms(c.reactions[0].time_of(0)), Some(1));
        assert_eq!(ms(c.reactions[0].time_of(1)), Some(2));
        assert_eq!(c.reactions[1].time_of(0), None, "no ctime: none");
        assert_eq!(
            (
                c.reactions[1].emoji.as_str(),
                c.reactions[1].exact,
                c.undecorated
            ),
            ("1", false, 1)
        );
        let old = convert(
            &node(r#"{"tada":{"carol":{"ctime":1}},"x":3}"#),
            &names,
            false,
        );
        assert_eq!(
            (old.reactions[0].emoji.as_str(), old.reactions[0].exact),
            ("tada", false)
        );
        assert_eq!((old.old_shape, old.problems.len()), (1, 1));
    }
}
