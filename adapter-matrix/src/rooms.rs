//! Finding, adopting and creating rooms and spaces (`Sink::resolve_chat`).
//!
//! * Adopted (`matrix = "!id:server"` or `"#alias:server"`): the alias is resolved, the bot
//!   joins (it must have been invited to an invite-only room), and the room is recorded as
//!   adopted (kbbridge never deletes it).
//! * `"auto"`: team → space, subteam → sub-space (`m.space.child` in the parent,
//!   `m.space.parent` in the child), channel → room in its team's space, direct conversation →
//!   invite-only room with its members. Each is named, gets the channel's headline as topic and
//!   an alias in the appservice's namespace (`localpart.rs`), and is recorded in the store.
//!
//! Exactly once: the store is asked first; a room created by a run that crashed before it
//! recorded it is found again by its alias (the namespace is exclusive: only kbbridge makes
//! aliases there), so a crash never leaves a second copy of a room.
//!
//! Rooms are private: spaces and DMs are invite-only, a team's rooms may be joined by members
//! of its space (`restricted`). The bot creates everything, so it is admin (creator, power 100);
//! the real Matrix accounts of the mapping file's `[matrix.users]` are invited.

use bridge_core::{ChatId, ChatInfo, ChatKind, Platform, Sender};
use ruma::{
    OwnedRoomAliasId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId,
    api::client::{
        alias::get_alias,
        room::create_room::{self, v3::RoomPreset},
        state::send_state_event,
    },
    events::StateEventType,
    serde::Raw,
};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::{error::MatrixError, localpart, sink::MatrixSink};

/// Store kinds of `target` rows.
const ROOM: &str = "room";
const SPACE: &str = "space";
const ADOPTED: &str = "adopted";

/// What to create.
struct NewRoom<'a> {
    name: String,
    topic: Option<&'a str>,
    alias: String,
    parent: Option<&'a RoomId>,
    space: bool,
    invite: Vec<OwnedUserId>,
    direct: bool,
}

impl MatrixSink {
    /// `Sink::resolve_chat`: the room for `info`, adopted (`requested`) or made ("auto").
    pub(crate) async fn resolve_room(
        &self,
        info: &ChatInfo,
        requested: Option<&ChatId>,
    ) -> Result<OwnedRoomId, MatrixError> {
        // One resolution at a time: two links of one team must not both create its space.
        let _one = self.creating.lock().await;
        match requested {
            Some(chat) => self.adopt(info, chat).await,
            None => self.auto_room(info).await,
        }
    }

    async fn adopt(&self, info: &ChatInfo, chat: &ChatId) -> Result<OwnedRoomId, MatrixError> {
        let s = chat.as_str();
        let room = if s.starts_with('#') {
            let alias = RoomAliasId::parse(s)
                .map_err(|e| MatrixError::Invalid(format!("{s:?} is not a room alias: {e}")))?;
            self.lookup_alias(&alias)
                .await?
                .ok_or_else(|| MatrixError::Invalid(format!("no room has the alias {s}")))?
        } else {
            RoomId::parse(s)
                .map_err(|e| MatrixError::Invalid(format!("{s:?} is not a room ID: {e}")))?
        };
        self.ghosts
            .ensure_joined(&self.client, &room, None)
            .await
            .map_err(|e| {
                if e.is("M_FORBIDDEN") {
                    MatrixError::Invalid(format!(
                        "the bridge bot {} may not join {s}: invite it to the room first ({e})",
                        self.client.bot()
                    ))
                } else {
                    e
                }
            })?;
        self.store
            .save_target(
                Platform::Matrix,
                ADOPTED,
                &key(info.chat.platform, info.chat.chat.as_str()),
                room.as_str(),
                true,
            )
            .await?;
        info!(chat = %info.chat, room = %room, "adopted room");
        Ok(room)
    }

    async fn auto_room(&self, info: &ChatInfo) -> Result<OwnedRoomId, MatrixError> {
        let key = key(info.chat.platform, info.chat.chat.as_str());
        if let Some(known) = self.store.target(Platform::Matrix, ROOM, &key).await? {
            return parse_room(&known);
        }
        let parent = match info.kind {
            ChatKind::Channel if !info.path.is_empty() => Some(self.space(info).await?),
            _ => None,
        };
        let (direct, mut invite) = match &info.kind {
            ChatKind::Direct { members } => (
                true,
                members
                    .iter()
                    .filter_map(|m| self.real_account(m.as_str()))
                    .collect(),
            ),
            ChatKind::Channel => (false, self.all_real_accounts()),
        };
        invite.sort();
        invite.dedup();
        let new = NewRoom {
            name: info.name.clone(),
            topic: info.topic.as_deref(),
            alias: localpart::room_alias(&self.config.ghost_prefix, info),
            parent: parent.as_deref(),
            space: false,
            invite,
            direct,
        };
        let room = self.find_or_create(&new).await?;
        if let ChatKind::Direct { members } = &info.kind {
            // The conversation's people are in it from the start, even those who never wrote.
            for member in members {
                let sender = Sender {
                    id: member.clone(),
                    name: member.to_string(),
                    avatar: None,
                };
                let ghost = self
                    .ghosts
                    .ensure(&self.client, &self.store, info.chat.platform, &sender)
                    .await?;
                self.ghosts
                    .ensure_joined(&self.client, &room, Some(&ghost))
                    .await?;
            }
        }
        self.store
            .save_target(Platform::Matrix, ROOM, &key, room.as_str(), false)
            .await?;
        Ok(room)
    }

    /// The space of `info`'s team, and of every team above it.
    async fn space(&self, info: &ChatInfo) -> Result<OwnedRoomId, MatrixError> {
        let mut parent: Option<OwnedRoomId> = None;
        for depth in 1..=info.path.len() {
            let path = &info.path[..depth];
            let name = path.join(".");
            let key = key(info.chat.platform, &name);
            let space = match self.store.target(Platform::Matrix, SPACE, &key).await? {
                Some(known) => parse_room(&known)?,
                None => {
                    let new = NewRoom {
                        name,
                        topic: None,
                        alias: localpart::space_alias(&self.config.ghost_prefix, path),
                        parent: parent.as_deref(),
                        space: true,
                        invite: self.all_real_accounts(),
                        direct: false,
                    };
                    let space = self.find_or_create(&new).await?;
                    self.store
                        .save_target(Platform::Matrix, SPACE, &key, space.as_str(), false)
                        .await?;
                    space
                }
            };
            parent = Some(space);
        }
        parent.ok_or_else(|| MatrixError::Invalid("a space needs a team path".to_owned()))
    }

    /// The room with `new`'s alias (made by a run that crashed before recording it), or a new
    /// one; linked into its parent space either way.
    async fn find_or_create(&self, new: &NewRoom<'_>) -> Result<OwnedRoomId, MatrixError> {
        let alias = self.alias(&new.alias)?;
        let room = match self.lookup_alias(&alias).await? {
            Some(room) => {
                warn!(alias = %alias, room = %room, "reusing a room an interrupted run created");
                room
            }
            None => match self.create(new).await {
                Ok(room) => room,
                // Made meanwhile (another kbbridge on the same homeserver).
                Err(e) if e.is("M_ROOM_IN_USE") => self
                    .lookup_alias(&alias)
                    .await?
                    .ok_or_else(|| MatrixError::Invalid(format!("the alias {alias} is taken")))?,
                Err(e) => return Err(e),
            },
        };
        if let Some(parent) = new.parent {
            // Idempotent: the same state again changes nothing.
            let via = json!({ "via": [self.client.server_name()] });
            self.put_state(parent, StateEventType::SpaceChild, room.as_str(), via)
                .await?;
        }
        Ok(room)
    }

    async fn create(&self, new: &NewRoom<'_>) -> Result<OwnedRoomId, MatrixError> {
        let server = self.client.server_name();
        let mut initial = vec![state(
            "m.room.history_visibility",
            "",
            json!({"history_visibility": "shared"}),
        )];
        if let Some(parent) = new.parent {
            initial.push(state(
                "m.space.parent",
                parent.as_str(),
                json!({ "via": [server], "canonical": true }),
            ));
            initial.push(state(
                "m.room.join_rules",
                "",
                json!({ "join_rule": "restricted",
                        "allow": [{ "type": "m.room_membership", "room_id": parent }] }),
            ));
        }
        let mut req = create_room::v3::Request::new();
        req.name = Some(new.name.clone()).filter(|n| !n.is_empty());
        req.topic = new.topic.map(str::to_owned);
        req.room_alias_name = Some(new.alias.clone());
        req.preset = Some(RoomPreset::PrivateChat);
        req.invite = new.invite.clone();
        req.is_direct = new.direct;
        req.initial_state = initial.into_iter().map(raw).collect::<Result<_, _>>()?;
        if new.space {
            req.creation_content = Some(raw(json!({ "type": "m.space" }))?);
        }
        let room = self.client.send(req, None).await?.room_id;
        info!(room = %room, alias = %new.alias, space = new.space, name = %new.name, "created room");
        Ok(room)
    }

    async fn put_state(
        &self,
        room: &RoomId,
        kind: StateEventType,
        state_key: &str,
        content: Value,
    ) -> Result<(), MatrixError> {
        let req = send_state_event::v3::Request::new_raw(
            room.to_owned(),
            kind,
            state_key.to_owned(),
            raw(content)?,
        );
        self.client.send(req, None).await?;
        Ok(())
    }

    async fn lookup_alias(&self, alias: &RoomAliasId) -> Result<Option<OwnedRoomId>, MatrixError> {
        match self
            .client
            .send(get_alias::v3::Request::new(alias.to_owned()), None)
            .await
        {
            Ok(answer) => Ok(Some(answer.room_id)),
            Err(e) if e.is("M_NOT_FOUND") || e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn alias(&self, localpart: &str) -> Result<OwnedRoomAliasId, MatrixError> {
        RoomAliasId::parse(format!("#{localpart}:{}", self.client.server_name()))
            .map_err(|e| MatrixError::Invalid(format!("no alias from {localpart:?}: {e}")))
    }

    /// The real Matrix account the mapping file gives the source user `name`, if any.
    pub(crate) fn real_account(&self, name: &str) -> Option<OwnedUserId> {
        let id = self.config.users.get(name)?;
        match UserId::parse(id.as_str()) {
            Ok(id) => Some(id),
            Err(e) => {
                warn!(user = name, matrix = %id, error = %e, "not a Matrix user ID; ignored");
                None
            }
        }
    }

    fn all_real_accounts(&self) -> Vec<OwnedUserId> {
        self.config
            .users
            .keys()
            .filter_map(|name| self.real_account(name))
            .collect()
    }
}

/// The store key of a source chat or team: `keybase:acme#general`, `keybase:acme.ops`.
fn key(platform: Platform, name: &str) -> String {
    format!("{platform}:{name}")
}

/// A room ID read back from the store or the mapping file.
pub(crate) fn parse_room(s: &str) -> Result<OwnedRoomId, MatrixError> {
    RoomId::parse(s).map_err(|e| MatrixError::Invalid(format!("{s:?} is not a room ID: {e}")))
}

fn state(kind: &str, state_key: &str, content: Value) -> Value {
    json!({ "type": kind, "state_key": state_key, "content": content })
}

/// JSON as one of ruma's raw event types.
pub(crate) fn raw<T>(value: Value) -> Result<Raw<T>, MatrixError> {
    let json =
        serde_json::value::to_raw_value(&value).map_err(|e| MatrixError::Request(e.to_string()))?;
    Ok(Raw::from_json(json))
}
