//! Letting a person look: invite a Matrix account into a room and the spaces above it, and
//! describe them (`kbbridge demo`).

use ruma::{OwnedRoomId, RoomId, UserId, api::client::state::get_state_events};
use serde_json::Value;
use tracing::debug;

use crate::{error::MatrixError, ghost, rooms::parse_room, sink::MatrixSink};

/// A room or space, as a person would find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomView {
    /// The room ID.
    pub id: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its main alias, if it has one.
    pub alias: Option<String>,
    /// Whether it is a space.
    pub space: bool,
}

impl MatrixSink {
    /// Invites `user` into `room` and every space above it (invitations that are not needed,
    /// because `user` is already there, are skipped), and describes them, outermost space
    /// first, the room last.
    ///
    /// # Errors
    /// [`MatrixError::Invalid`] for a bad ID; the homeserver's errors otherwise.
    pub async fn invite_viewer(
        &self,
        room: &str,
        user: &str,
    ) -> Result<Vec<RoomView>, MatrixError> {
        let user = UserId::parse(user)
            .map_err(|e| MatrixError::Invalid(format!("{user:?} is not a user ID: {e}")))?;
        let mut views = Vec::new();
        let mut next: Option<OwnedRoomId> = Some(parse_room(room)?);
        while let Some(room) = next.take() {
            if views.iter().any(|v: &RoomView| v.id == room.as_str()) {
                break;
            }
            match ghost::invite(&self.client, &room, &user).await {
                Ok(()) => {}
                Err(e) if e.is("M_FORBIDDEN") => {
                    debug!(room = %room, user = %user, error = %e, "not invited");
                }
                Err(e) => return Err(e),
            }
            let (view, parent) = self.describe(&room).await?;
            views.push(view);
            next = parent;
        }
        views.reverse();
        Ok(views)
    }

    /// A room's view and its canonical parent space.
    async fn describe(
        &self,
        room: &RoomId,
    ) -> Result<(RoomView, Option<OwnedRoomId>), MatrixError> {
        let answer = self
            .client
            .send(get_state_events::v3::Request::new(room.to_owned()), None)
            .await?;
        let state: Vec<Value> = answer
            .room_state
            .iter()
            .filter_map(|raw| serde_json::from_str(raw.json().get()).ok())
            .collect();
        let content = |kind: &str| {
            state
                .iter()
                .find(|e| e["type"] == kind && e["state_key"] == "")
                .map(|e| &e["content"])
        };
        let text = |kind: &str, key: &str| {
            content(kind)
                .and_then(|c| c[key].as_str())
                .map(str::to_owned)
        };
        let parent = state
            .iter()
            .find(|e| e["type"] == "m.space.parent")
            .and_then(|e| e["state_key"].as_str())
            .and_then(|id| RoomId::parse(id).ok());
        let view = RoomView {
            id: room.to_string(),
            name: text("m.room.name", "name"),
            alias: text("m.room.canonical_alias", "alias"),
            space: content("m.room.create").is_some_and(|c| c["type"] == "m.space"),
        };
        Ok((view, parent))
    }
}
