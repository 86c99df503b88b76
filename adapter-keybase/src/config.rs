//! The `[keybase]` section of the mapping file, and the syntax of Keybase names.
//!
//! Only this adapter knows what a Keybase chat or username looks like, so the checks that
//! `bridge-config` runs on a link's `keybase = "…"` value live here too: [`parse_chat`] and
//! [`check_username`].

use path_clean::PathClean;
use std::path::{Path, PathBuf};

use bridge_core::ChatId;
use serde::Deserialize;

/// The `[keybase]` section: where the history comes from and how to reach the live client.
///
/// Unknown keys are not denied here: `bridge-config` reports them all at once, with their paths.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct KeybaseConfig {
    /// The export: a file or a folder of any layout [`crate::KeybaseExport::open`] reads
    /// (keybase-export, raw `chat api` dumps, dentropy/keybase-binding's folder or database,
    /// keybase-binding-nodejs's folder, `kbbridge export`'s folder). Several exports of the same
    /// history are combined by putting them side by side in one folder and naming that folder.
    /// A relative path resolves against the mapping file's folder. Required as soon as one link
    /// backfills.
    pub export: Option<PathBuf>,
    /// The `keybase` executable for the live relay. A bare name (the default, `keybase`) is looked
    /// up on `PATH`; a relative path with a folder in it resolves against the mapping file's
    /// folder (tests point it at the stand-in).
    pub binary: PathBuf,
    /// The Keybase home folder (`keybase --home`), when not the default one. A relative path
    /// resolves against the mapping file's folder.
    pub home: Option<PathBuf>,
    /// The bridge's own Keybase account, checked against the account the `keybase` client is
    /// logged in as ([`crate::live::Identity::expect`]). Echoes are told by device (what this
    /// client sent) and the ID map, never by this name: the account's messages from its other
    /// devices (a person's phone) are relayed. Unset: whatever account the client is logged in
    /// as.
    pub username: Option<String>,
    /// Whether system and headline lines (joins, topic changes, reaction notes) are copied as
    /// notices. When false they are skipped.
    pub notices: bool,
    /// How a message relayed into Keybase shows its author, since it is posted by the bridge
    /// account: `{name}` (the author's name), `{platform}` (Discord, Matrix) and `{text}` (the
    /// message; required). Keybase markdown.
    pub sender_format: String,
    /// How often (seconds) the live relay lists the account's chats for channels created
    /// since it started, which a relaying pattern link (`acme#*`) then links. 1 to 3600.
    pub watch_seconds: u64,
}

/// The default of `[keybase] sender_format`.
pub const DEFAULT_SENDER_FORMAT: &str = "**{name}** ({platform}): {text}";

impl Default for KeybaseConfig {
    fn default() -> Self {
        Self {
            export: None,
            binary: PathBuf::from("keybase"),
            home: None,
            username: None,
            notices: true,
            sender_format: DEFAULT_SENDER_FORMAT.to_owned(),
            watch_seconds: 30,
        }
    }
}

impl KeybaseConfig {
    /// Makes the relative paths absolute against `dir`, the mapping file's folder, without
    /// `.` or `..` left in them (they show in logs and errors). A bare `binary` name is left
    /// alone, to be looked up on `PATH`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for path in [&mut self.export, &mut self.home].into_iter().flatten() {
            if path.is_relative() {
                *path = dir.join(&*path).clean();
            }
        }
        if self.binary.is_relative() && self.binary.components().count() > 1 {
            self.binary = dir.join(&self.binary).clean();
        }
    }

    /// What is wrong inside the section, as `(key, message)` pairs (keys relative to the
    /// section). Whether the section is complete enough for the links is `bridge-config`'s
    /// business.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, path) in [("export", &self.export), ("home", &self.home)] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                problems.push((key.to_owned(), "must not be empty".to_owned()));
            }
        }
        if self.binary.as_os_str().is_empty() {
            problems.push(("binary".to_owned(), "must not be empty".to_owned()));
        }
        if let Some(name) = &self.username {
            if let Err(why) = check_username(name) {
                let message = format!("{name:?} is not a Keybase username: {why}");
                problems.push(("username".to_owned(), message));
            }
        }
        if let Err(why) = crate::sink::SenderFormat::parse(&self.sender_format) {
            problems.push(("sender_format".to_owned(), why));
        }
        if !(1..=3600).contains(&self.watch_seconds) {
            problems.push((
                "watch_seconds".to_owned(),
                format!("{} is not between 1 and 3600", self.watch_seconds),
            ));
        }
        problems
    }
}

/// Checks a Keybase username: 2 to 16 characters of `a-z`, `0-9` and `_`.
///
/// # Errors
/// Why it is not one, in a few words.
pub fn check_username(name: &str) -> Result<(), String> {
    check_word(name, "username")
}

/// Parses a Keybase chat as written in a link: `team#channel`, `team.subteam#channel`, or a
/// direct/group chat `alice,bob[,carol]`. Returns its ID as the adapter writes it: participants
/// sorted, as Keybase prints them (so `bob,alice` and `alice,bob` are the same chat).
///
/// # Errors
/// Why it is not a Keybase chat, in a few words.
pub fn parse_chat(s: &str) -> Result<ChatId, String> {
    if let Some((team, channel)) = s.split_once('#') {
        check_team(team)?;
        if channel.is_empty() {
            return Err("the channel name after `#` is empty".to_owned());
        }
        if channel.contains(|c: char| c.is_whitespace() || c == '#') {
            return Err(format!(
                "channel name {channel:?} contains a space or a `#`"
            ));
        }
        return Ok(ChatId::new(s));
    }
    if s.contains(',') {
        let mut names: Vec<&str> = s.split(',').collect();
        for name in &names {
            check_username(name).map_err(|why| format!("{name:?} is not a username: {why}"))?;
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("{:?} is listed twice", pair[0]));
        }
        return Ok(ChatId::new(names.join(",")));
    }
    if check_team(s).is_ok() {
        Err(format!(
            "no channel: write \"{s}#general\" for a team channel"
        ))
    } else {
        Err("expected team#channel, team.subteam#channel or a chat like alice,bob".to_owned())
    }
}

/// What a link's `keybase = "…"` names when it names many chats.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChatPattern {
    /// Every channel of a team and of its subteams: `acme#*` (`acme#…`, `acme.ops#…`), or of
    /// one subteam and its own: `acme.ops#*`.
    Team(String),
    /// Every direct and group conversation: `direct:*`.
    Direct,
}

/// The pattern of every direct and group conversation.
pub const DIRECT_PATTERN: &str = "direct:*";

impl ChatPattern {
    /// Whether `chat` (as [`parse_chat`] writes it) is one of the pattern's.
    pub fn matches(&self, chat: &ChatId) -> bool {
        let name = chat.as_str();
        match self {
            ChatPattern::Team(team) => match name.split_once('#') {
                Some((t, _)) if !t.contains(',') => {
                    t == team
                        || t.strip_prefix(team.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                }
                _ => false,
            },
            ChatPattern::Direct => is_direct(name),
        }
    }

    /// How narrow the pattern is: where two match one chat, the narrower one takes it
    /// (`acme.ops#*` over `acme#*`).
    pub fn depth(&self) -> usize {
        match self {
            ChatPattern::Team(team) => team.split('.').count(),
            ChatPattern::Direct => 0,
        }
    }
}

impl std::fmt::Display for ChatPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatPattern::Team(team) => write!(f, "{team}#*"),
            ChatPattern::Direct => f.write_str(DIRECT_PATTERN),
        }
    }
}

/// Whether `chat` is a direct or group conversation (`alice,bob`, `alice,bob#carol`), not a
/// team channel.
pub fn is_direct(chat: &str) -> bool {
    match chat.split_once('#') {
        Some((before, _)) => before.contains(','),
        None => true,
    }
}

/// Parses a link's `keybase = "…"` when it is a pattern: `team#*`, `team.subteam#*` or
/// [`DIRECT_PATTERN`]; `None` when it is not written as one (then it is a chat).
///
/// # Errors
/// Why the team of a `…#*` is not a team name.
pub fn parse_pattern(s: &str) -> Option<Result<ChatPattern, String>> {
    if s == DIRECT_PATTERN {
        return Some(Ok(ChatPattern::Direct));
    }
    let team = s.strip_suffix("#*")?;
    Some(check_team(team).map(|()| ChatPattern::Team(team.to_owned())))
}

/// Checks a team name: dot-separated parts of 2 to 16 characters of `a-z`, `0-9` and `_`, not
/// starting with `_` (subteams are `acme.ops`).
fn check_team(team: &str) -> Result<(), String> {
    if team.is_empty() {
        return Err("the team name before `#` is empty".to_owned());
    }
    for part in team.split('.') {
        check_word(part, "team name part").map_err(|why| format!("team {team:?}: {why}"))?;
        if part.starts_with('_') {
            return Err(format!("team {team:?}: a part cannot start with `_`"));
        }
    }
    Ok(())
}

/// 2 to 16 characters of `a-z`, `0-9` and `_`: the shape of usernames and team name parts.
fn check_word(word: &str, what: &str) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let len = word.chars().count();
    if !(2..=16).contains(&len) {
        return Err(format!(
            "a {what} has 2 to 16 characters, {word:?} has {len}"
        ));
    }
    if word.chars().all(|c| valid(c.to_ascii_lowercase())) && !word.chars().all(valid) {
        return Err(format!(
            "a {what} is lowercase ({:?})",
            word.to_ascii_lowercase()
        ));
    }
    if !word.chars().all(valid) {
        return Err(format!("a {what} has only a-z, 0-9 and _"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_teams_with_their_subteams_or_every_direct_chat() {
        let acme = parse_pattern("acme#*").unwrap().unwrap();
        let ops = parse_pattern("acme.ops#*").unwrap().unwrap();
        let direct = parse_pattern("direct:*").unwrap().unwrap();
        let chat = |s: &str| ChatId::new(s);
        assert!(acme.matches(&chat("acme#general")) && acme.matches(&chat("acme.ops#alerts")));
        assert!(!acme.matches(&chat("acmecorp#general")) && !acme.matches(&chat("alice,bob")));
        assert!(ops.matches(&chat("acme.ops#alerts")) && !ops.matches(&chat("acme#general")));
        assert!(ops.depth() > acme.depth());
        assert!(direct.matches(&chat("alice,bob")) && direct.matches(&chat("alice,bob#carol")));
        assert!(!direct.matches(&chat("acme#general")));
        assert!(parse_pattern("acme#general").is_none());
        assert!(parse_pattern("../../tmp#*").unwrap().is_err());
        assert!(parse_chat("../../tmp#general").is_err());
        assert_eq!(acme.to_string(), "acme#*");
    }

    #[test]
    fn team_channels_parse_as_written() {
        for s in [
            "acme#general",
            "acme.ops#alerts",
            "a_b.c2#x-y",
            "acme#général",
        ] {
            assert_eq!(parse_chat(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn direct_chats_are_sorted() {
        assert_eq!(parse_chat("bob,alice").unwrap().as_str(), "alice,bob");
        assert_eq!(
            parse_chat("carol,alice,bob").unwrap().as_str(),
            "alice,bob,carol"
        );
    }

    #[test]
    fn malformed_chats_say_why() {
        let cases = [
            ("", "expected team#channel"),
            ("acme", "no channel"),
            ("acme#", "channel name after `#` is empty"),
            ("#general", "team name before `#` is empty"),
            ("acme#two words", "contains a space"),
            ("Acme#general", "lowercase"),
            ("acme..ops#x", "2 to 16 characters"),
            ("_acme#x", "cannot start with `_`"),
            ("alice,", "is not a username"),
            ("alice,alice", "listed twice"),
            ("alice,bob-smith", "only a-z"),
        ];
        for (input, expected) in cases {
            let err = parse_chat(input).unwrap_err();
            assert!(
                err.contains(expected),
                "{input:?} gave {err:?}, wanted {expected:?}"
            );
        }
    }

    #[test]
    fn relative_paths_resolve_against_the_file_folder() {
        let mut config = KeybaseConfig {
            export: Some("export.jsonl".into()),
            home: Some("/abs/home".into()),
            ..KeybaseConfig::default()
        };
        config.resolve_paths(Path::new("/etc/kbbridge"));
        assert_eq!(
            config.export.unwrap(),
            Path::new("/etc/kbbridge/export.jsonl")
        );
        assert_eq!(config.home.unwrap(), Path::new("/abs/home"));
        assert_eq!(config.binary, Path::new("keybase"));

        let mut config = KeybaseConfig {
            binary: "bin/keybase".into(),
            ..KeybaseConfig::default()
        };
        config.resolve_paths(Path::new("/etc/kbbridge"));
        assert_eq!(config.binary, Path::new("/etc/kbbridge/bin/keybase"));
    }

    #[test]
    fn problems_name_their_keys() {
        let config = KeybaseConfig {
            username: Some("Bot!".into()),
            binary: PathBuf::new(),
            sender_format: "{name} says".into(),
            watch_seconds: 0,
            ..KeybaseConfig::default()
        };
        let problems = config.problems();
        let keys: Vec<_> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["binary", "username", "sender_format", "watch_seconds"]
        );
        assert!(problems[2].1.contains("no {text}"), "{}", problems[2].1);
        assert!(KeybaseConfig::default().problems().is_empty());
    }
}
