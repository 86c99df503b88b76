//! One request's view of the state: users, teams, conversations, and finding the conversation
//! a request addresses (keybase.md §1.5).

use std::collections::HashMap;

use crate::{
    envelope::{Fail, Opts},
    state::{Body, Conv, Home, Stored, Teams, Users, canonical_participants},
};

/// The members types a channel may name.
const MEMBERS_TYPES: [&str; 4] = ["team", "impteamnative", "impteamupgrade", "kbfs"];

/// Users, teams and conversations, loaded for one request.
pub struct World {
    pub home: Home,
    pub users: Users,
    pub teams: Teams,
    pub convs: Vec<Conv>,
}

impl World {
    /// Loads the state.
    ///
    /// # Errors
    /// A state file that cannot be read, as a service error.
    pub fn load(home: &Home) -> Result<Self, Fail> {
        let load = || -> crate::state::Result<Self> {
            Ok(Self {
                home: home.clone(),
                users: home.users()?,
                teams: home.teams()?,
                convs: home.conversations()?,
            })
        };
        load().map_err(Fail::Reply)
    }

    /// The user this process acts as: the logged-in user, or the one of `admin as`.
    pub fn me(&self) -> &str {
        self.home
            .acting
            .as_ref()
            .map_or(&self.users.me, |a| &a.user)
    }

    /// The device this process writes from: the acting user's named device, or their default
    /// one (`users.json`; "laptop" when unset).
    pub fn device(&self) -> String {
        match self.home.acting.as_ref().and_then(|a| a.device.clone()) {
            Some(device) => device,
            None => self.users.get(self.me()).device_name().to_owned(),
        }
    }

    /// The device `m` was sent from: its own, or its sender's default one.
    pub fn device_of(&self, m: &Stored) -> String {
        match &m.device {
            Some(d) => d.clone(),
            None => self.users.get(&m.sender).device_name().to_owned(),
        }
    }

    /// Whether `m` was made on this stand-in's own device: sent by the logged-in user from
    /// the logged-in user's own device (api-listen's LOCAL source). The same user's messages
    /// from another device (their phone) are remote, as in Keybase.
    pub fn is_local(&self, m: &Stored) -> bool {
        let me = &self.users.me;
        m.sender == *me && self.device_of(m) == self.users.get(me).device_name()
    }

    /// Whether the logged-in user may read `conv`.
    pub fn can_read(&self, conv: &Conv) -> bool {
        let me = self.me();
        conv.members.iter().any(|m| m == me)
            || (conv.members_type == "team"
                && self
                    .teams
                    .get(&conv.name)
                    .is_some_and(|t| t.members.contains_key(me)))
    }

    /// Whether the logged-in user has joined `conv` (listed by `list`).
    pub fn joined(&self, conv: &Conv) -> bool {
        conv.members.iter().any(|m| m == self.me())
    }

    /// The conversation `opts` addresses with `channel` or `conversation_id`, readable by the
    /// logged-in user.
    ///
    /// # Errors
    /// Validation errors for a missing or doubled address; service errors when nothing matches.
    pub fn conv_of(&self, opts: &Opts) -> Result<Conv, Fail> {
        let channel = opts.obj("channel")?;
        let name = match &channel {
            Some(c) => c.str("name")?.unwrap_or_default(),
            None => String::new(),
        };
        let conv_id = opts.str("conversation_id")?.unwrap_or_default();
        let conv = match (name.is_empty(), conv_id.is_empty()) {
            (false, false) => {
                return Err(opts.invalid("include channel or conversation_id, not both"));
            }
            (true, true) => return Err(opts.invalid("need channel or conversation_id")),
            (true, false) => {
                if conv_id.len() != 64 || !conv_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Fail::Reply(format!("invalid conversation ID: {conv_id}")));
                }
                self.convs
                    .iter()
                    .find(|c| c.id == conv_id.to_ascii_lowercase())
                    .cloned()
            }
            (false, true) => {
                let Some(channel) = channel else {
                    return Err(opts.invalid("need channel or conversation_id"));
                };
                let members_type = channel
                    .str("members_type")?
                    .unwrap_or_default()
                    .to_lowercase();
                if !members_type.is_empty() && !MEMBERS_TYPES.contains(&members_type.as_str()) {
                    return Err(opts.invalid(&format!("invalid members type {members_type:?}")));
                }
                let members_type = if members_type.is_empty() {
                    "impteamnative".to_owned()
                } else {
                    members_type
                };
                let topic = channel.str("topic_name")?.unwrap_or_default();
                self.find(&name, &members_type, &topic).cloned()
            }
        };
        let shown = if name.is_empty() { conv_id } else { name };
        match conv {
            Some(c) if self.can_read(&c) => Ok(c),
            _ => Err(Fail::Reply(format!("no conversations matched {shown:?}"))),
        }
    }

    fn find(&self, name: &str, members_type: &str, topic: &str) -> Option<&Conv> {
        if members_type == "team" {
            let topic = if topic.is_empty() { "general" } else { topic };
            let name = name.to_lowercase();
            self.convs.iter().find(|c| {
                c.members_type == "team" && c.name == name && c.topic_name.as_deref() == Some(topic)
            })
        } else {
            let name = canonical_participants(name);
            self.convs
                .iter()
                .find(|c| c.members_type == members_type && c.name == name)
        }
    }

    /// The stored messages of `conv`.
    pub fn messages(&self, conv: &Conv) -> Result<Vec<Stored>, Fail> {
        self.home.messages(conv).map_err(Fail::Reply)
    }

    /// The sizes of `conv`'s attachment files, by message id.
    pub fn sizes(&self, conv: &Conv, all: &[Stored]) -> HashMap<u64, u64> {
        all.iter()
            .filter_map(|m| match &m.body {
                Body::Attachment { filename, file, .. } => {
                    let path = self
                        .home
                        .attachment_file(conv, m.id, filename, file.as_deref());
                    std::fs::metadata(path).ok().map(|meta| (m.id, meta.len()))
                }
                _ => None,
            })
            .collect()
    }
}
