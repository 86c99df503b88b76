//! `[[link]]`: each table checked on its own, then against the others (names, targets).

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
};

use adapter_discord::config::Snowflake;
use adapter_keybase::config::ChatPattern;
use bridge_core::{
    ChatId, ChatRef, Platform,
    links::{Link, LinkMode},
};

use crate::{
    error::Problems,
    model::{AUTO, LinkConfig},
    path::KeyPath,
    raw::RawLink,
    suggest::did_you_mean,
};

/// A link as messages name it: `link[2] ("ops")`.
#[derive(Clone, Debug)]
pub(crate) struct LinkRef {
    index: usize,
    name: Option<String>,
}

impl fmt::Display for LinkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link[{}]", self.index)?;
        match &self.name {
            Some(name) => write!(f, " ({name:?})"),
            None => Ok(()),
        }
    }
}

/// Names a few links: `link[0] ("a")`, `link[0] ("a") and link[3] ("b")`, `… and 4 more`.
pub(crate) fn describe(links: &[LinkRef]) -> String {
    match links {
        [] => "no link".to_owned(),
        [one] => one.to_string(),
        [a, b] => format!("{a} and {b}"),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    }
}

/// Which links need what, for the checks of the other sections.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    /// Links with a `discord` key (valid or not).
    pub(crate) discord: Vec<LinkRef>,
    /// Links with a `matrix` key (valid or not).
    pub(crate) matrix: Vec<LinkRef>,
    /// Links whose mode includes a backfill.
    pub(crate) backfill: Vec<LinkRef>,
}

/// One link's target as written: a chat, or `"auto"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Chat(ChatId),
    Auto,
}

/// The targets of the links checked so far, to find a chat used twice.
struct SeenTargets<'a> {
    /// Every link, by index, for messages.
    refs: &'a [LinkRef],
    /// (platform, chat) → the first link writing there, and its source.
    fixed: HashMap<(Platform, ChatId), (usize, Option<ChatId>)>,
    /// (source, platform) → the first link copying that source into an "auto" chat there.
    auto: HashMap<(ChatId, Platform), usize>,
}

impl<'a> SeenTargets<'a> {
    fn new(refs: &'a [LinkRef]) -> Self {
        Self {
            refs,
            fixed: HashMap::new(),
            auto: HashMap::new(),
        }
    }

    /// Records link `index`'s `target` on `platform` (at `at`), or the problem if another link
    /// already writes there.
    fn record(
        &mut self,
        index: usize,
        source: Option<&ChatId>,
        platform: Platform,
        target: &Target,
        at: &KeyPath,
        problems: &mut Problems,
    ) {
        let what = noun(platform);
        match target {
            Target::Chat(chat) => match self.fixed.get(&(platform, chat.clone())) {
                Some((first, first_source)) => {
                    let message = match (first_source.as_ref(), source) {
                        (Some(a), Some(b)) if a == b => {
                            format!("{} already copies {b} into this {what}", self.refs[*first])
                        }
                        _ => format!(
                            "{what} {chat} is already the target of {}; a chat can be the \
                             target of only one link",
                            self.refs[*first]
                        ),
                    };
                    problems.push(at.clone(), message);
                }
                None => {
                    self.fixed
                        .insert((platform, chat.clone()), (index, source.cloned()));
                }
            },
            Target::Auto => {
                let Some(source) = source else { return };
                match self.auto.get(&(source.clone(), platform)) {
                    Some(first) => {
                        let first = &self.refs[*first];
                        let message =
                            format!("{first} already copies {source} into an \"auto\" {what}");
                        problems.push(at.clone(), message);
                    }
                    None => {
                        self.auto.insert((source.clone(), platform), index);
                    }
                }
            }
        }
    }
}

/// Checks every `[[link]]` table; returns the valid ones and which links need what.
pub(crate) fn check(raw: &[Option<RawLink>], problems: &mut Problems) -> (Vec<LinkConfig>, Usage) {
    let mut usage = Usage::default();
    let mut links = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let refs: Vec<LinkRef> = raw
        .iter()
        .enumerate()
        .map(|(index, link)| LinkRef {
            index,
            name: link.as_ref().and_then(|l| l.name.clone()),
        })
        .collect();
    let mut seen = SeenTargets::new(&refs);

    for (index, link) in raw.iter().enumerate() {
        let Some(link) = link else { continue };
        let at = KeyPath::root().key("link").index(index);
        let this = &refs[index];
        let name = check_name(link.name.as_deref(), &at, problems);
        if let Some(name) = name {
            if let Some(&first) = names.get(name) {
                problems.push(
                    at.key("name"),
                    format!("{name:?} is also the name of link[{first}]"),
                );
            } else {
                names.insert(name, index);
            }
        }
        let (source, pattern) = check_source(link.keybase.as_deref(), &at, problems);
        let discord = link
            .discord
            .as_deref()
            .and_then(|s| discord_target(s, &at, problems));
        let matrix = link
            .matrix
            .as_deref()
            .and_then(|s| matrix_target(s, &at, problems));
        let mode = check_mode(link.mode.as_deref(), &at, problems);
        let skip = mode == Some(LinkMode::Skip);
        if skip && pattern.is_some() {
            problems.push(
                at.key("mode"),
                "\"skip\" leaves out one chat a pattern names; a pattern link itself is \
                 removed instead",
            );
        }
        if link.discord.is_none() && link.matrix.is_none() && !skip {
            problems.push(at.clone(), "has no target: set discord, matrix or both");
        }
        if link.discord.is_some() {
            usage.discord.push(this.clone());
        }
        if link.matrix.is_some() {
            usage.matrix.push(this.clone());
        }
        if mode.is_some_and(LinkMode::backfills) {
            usage.backfill.push(this.clone());
        }

        let targets: Vec<(Platform, Target)> =
            [(Platform::Discord, discord), (Platform::Matrix, matrix)]
                .into_iter()
                .filter_map(|(platform, target)| Some((platform, target?)))
                .collect();
        for (platform, target) in &targets {
            let at = at.key(platform.as_str());
            if pattern.is_some() && *target != Target::Auto {
                problems.push(
                    at,
                    "a link naming many chats (a pattern) writes each into its own chat: \
                     set \"auto\"",
                );
                continue;
            }
            seen.record(index, source.as_ref(), *platform, target, &at, problems);
        }

        if let (Some(name), Some(source), Some(mode)) = (name, source, mode) {
            let auto = targets
                .iter()
                .filter(|(_, t)| *t == Target::Auto)
                .map(|(p, _)| *p)
                .collect::<BTreeSet<_>>();
            let targets = targets
                .into_iter()
                .map(|(platform, target)| match target {
                    Target::Chat(chat) => ChatRef::new(platform, chat),
                    Target::Auto => ChatRef::new(platform, AUTO),
                })
                .collect();
            let link = Link {
                name: name.to_owned(),
                source: ChatRef::new(Platform::Keybase, source),
                targets,
                mode,
            };
            links.push(LinkConfig {
                link,
                auto,
                pattern,
                group: None,
            });
        }
    }
    (links, usage)
}

/// What a chat is called on `platform`.
fn noun(platform: Platform) -> &'static str {
    match platform {
        Platform::Keybase => "Keybase chat",
        Platform::Discord => "Discord channel",
        Platform::Matrix => "Matrix room",
    }
}

fn check_name<'a>(name: Option<&'a str>, at: &KeyPath, problems: &mut Problems) -> Option<&'a str> {
    match name {
        None => problems.push(
            at.key("name"),
            "missing (required): a unique name for the link",
        ),
        Some(name) if name.trim().is_empty() => problems.push(at.key("name"), "must not be empty"),
        Some(name) => return Some(name),
    }
    None
}

/// The link's Keybase chat, or the pattern of the chats it names (its source is then the
/// pattern as written).
fn check_source(
    keybase: Option<&str>,
    at: &KeyPath,
    problems: &mut Problems,
) -> (Option<ChatId>, Option<ChatPattern>) {
    let Some(chat) = keybase else {
        let message = "missing (required): the Keybase chat, e.g. \"acme#general\" or \
                       \"alice,bob\", or the chats of a team (\"acme#*\") or every direct \
                       conversation (\"direct:*\")";
        problems.push(at.key("keybase"), message);
        return (None, None);
    };
    if let Some(pattern) = adapter_keybase::config::parse_pattern(chat) {
        return match pattern {
            Ok(p) => (Some(ChatId::new(chat)), Some(p)),
            Err(why) => {
                problems.push(
                    at.key("keybase"),
                    format!("{chat:?} is not a pattern: {why}"),
                );
                (None, None)
            }
        };
    }
    let source = adapter_keybase::config::parse_chat(chat)
        .map_err(|why| {
            problems.push(
                at.key("keybase"),
                format!("{chat:?} is not a Keybase chat: {why}"),
            )
        })
        .ok();
    (source, None)
}

fn discord_target(s: &str, at: &KeyPath, problems: &mut Problems) -> Option<Target> {
    if s == AUTO {
        return Some(Target::Auto);
    }
    match s.parse::<Snowflake>() {
        Ok(id) => Some(Target::Chat(ChatId::new(id.to_string()))),
        Err(why) => {
            let mut message =
                format!("{s:?} is not a Discord channel ID (17 to 20 digits) or \"auto\"");
            if s.bytes().all(|b| b.is_ascii_digit()) {
                message = format!("{message}: {why}");
            }
            problems.push(at.key("discord"), message);
            None
        }
    }
}

fn matrix_target(s: &str, at: &KeyPath, problems: &mut Problems) -> Option<Target> {
    if s == AUTO {
        return Some(Target::Auto);
    }
    match adapter_matrix::config::check_room(s) {
        Ok(_) => Some(Target::Chat(ChatId::new(s))),
        Err(why) => {
            let mut message = format!(
                "{s:?} is not a Matrix room ID (!id:server), alias (#name:server) or \"auto\""
            );
            if s.starts_with(['!', '#']) {
                message = format!("{message}: {why}");
            }
            problems.push(at.key("matrix"), message);
            None
        }
    }
}

fn check_mode(mode: Option<&str>, at: &KeyPath, problems: &mut Problems) -> Option<LinkMode> {
    const MODES: [(&str, LinkMode); 4] = [
        ("backfill", LinkMode::Backfill),
        ("relay", LinkMode::Relay),
        ("both", LinkMode::Both),
        ("skip", LinkMode::Skip),
    ];
    let Some(mode) = mode else {
        return Some(LinkMode::Backfill);
    };
    if let Some((_, mode)) = MODES.iter().find(|(name, _)| *name == mode) {
        return Some(*mode);
    }
    let mut message = format!("{mode:?} is not one of \"backfill\", \"relay\", \"both\", \"skip\"");
    if let Some(suggestion) = did_you_mean(mode, MODES.map(|(name, _)| name)) {
        message.push_str(&format!(" (did you mean {suggestion:?}?)"));
    }
    problems.push(at.key("mode"), message);
    None
}
