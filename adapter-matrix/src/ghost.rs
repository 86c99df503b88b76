//! Ghosts: one Matrix user per source user, registered once and joined to each room once.
//!
//! A ghost is `@<ghost_prefix><escaped name>:<server_name>` (`localpart.rs`), registered with
//! `m.login.application_service` (an `M_USER_IN_USE` answer means an earlier run did it), given
//! the source user's name as display name, and recorded in the store so later runs skip all
//! that. Joins are made once per process and room: a ghost that may not join (an invite-only
//! room) is invited by the bot first.
//!
//! Concurrent jobs asking for the same ghost share one registration (a `OnceCell` per key).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
};

use bridge_core::{MappingStore, Platform, Sender, UserId as SourceUser};
use ruma::profile::ProfileFieldValue;
use ruma::{
    OwnedRoomId, OwnedUserId, RoomId, UserId,
    api::client::{
        account::register::{self, LoginType},
        membership::{
            invite_user::{self, v3::InviteUserId},
            join_room_by_id,
        },
        profile::set_profile_field,
    },
};
use tokio::sync::OnceCell;
use tracing::{debug, info};

use crate::{client::MatrixClient, error::MatrixError, localpart};

/// One `OnceCell` per key: the first caller does the work, the others wait for it.
struct Once<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash, V> Once<K, V> {
    fn new() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, key: K) -> Arc<OnceCell<V>> {
        // A poisoned lock only means a panic elsewhere; the map itself is still sound.
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(cells.entry(key).or_default())
    }
}

/// The ghosts of one appservice.
pub struct Ghosts {
    prefix: String,
    registered: Once<(Platform, SourceUser), OwnedUserId>,
    joined: Once<(OwnedRoomId, Option<OwnedUserId>), ()>,
}

impl Ghosts {
    /// Ghosts named `@<prefix>…`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            registered: Once::new(),
            joined: Once::new(),
        }
    }

    /// The ghost's Matrix ID for the source user named `username` (whether or not it exists).
    ///
    /// # Errors
    /// [`MatrixError::Invalid`] if it makes no valid user ID (an overlong name).
    pub fn user_id(
        &self,
        client: &MatrixClient,
        username: &str,
    ) -> Result<OwnedUserId, MatrixError> {
        let local = localpart::ghost(&self.prefix, username);
        UserId::parse(format!("@{local}:{}", client.server_name()))
            .map_err(|e| MatrixError::Invalid(format!("no Matrix ID for {username:?}: {e}")))
    }

    /// The ghost of `sender` (a user of `platform`), registered and named.
    ///
    /// # Errors
    /// The homeserver's or the store's.
    pub async fn ensure(
        &self,
        client: &MatrixClient,
        store: &MappingStore,
        platform: Platform,
        sender: &Sender,
    ) -> Result<OwnedUserId, MatrixError> {
        let cell = self.registered.cell((platform, sender.id.clone()));
        let id = cell
            .get_or_try_init(|| async {
                if let Some(known) = store.ghost(Platform::Matrix, platform, &sender.id).await? {
                    return UserId::parse(known.as_str())
                        .map_err(|e| MatrixError::Invalid(format!("stored ghost {known:?}: {e}")));
                }
                let id = self.user_id(client, sender.id.as_str())?;
                self.register(client, &id).await?;
                let name = if sender.name.is_empty() {
                    sender.id.as_str()
                } else {
                    &sender.name
                };
                let value = ProfileFieldValue::DisplayName(name.to_owned());
                let req = set_profile_field::v3::Request::new(id.clone(), value);
                client.send(req, Some(&id)).await?;
                store
                    .save_ghost(Platform::Matrix, platform, &sender.id, id.as_str(), name)
                    .await?;
                info!(user = %sender.id, ghost = %id, "ghost registered");
                Ok::<_, MatrixError>(id)
            })
            .await?;
        Ok(id.clone())
    }

    async fn register(&self, client: &MatrixClient, id: &UserId) -> Result<(), MatrixError> {
        let mut req = register::v3::Request::new();
        req.username = Some(id.localpart().to_owned());
        req.login_type = Some(LoginType::ApplicationService);
        req.inhibit_login = true;
        match client.send(req, None).await {
            Ok(_) => Ok(()),
            // An earlier run registered it but crashed before recording it.
            Err(e) if e.is("M_USER_IN_USE") => {
                debug!(ghost = %id, "ghost already registered");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Makes `user` (a ghost; the bot when `None`) a member of `room`, once per process. A ghost
    /// that may not join is invited by the bot first.
    ///
    /// # Errors
    /// The homeserver's: `M_FORBIDDEN` when even the bot may not invite it.
    pub async fn ensure_joined(
        &self,
        client: &MatrixClient,
        room: &RoomId,
        user: Option<&UserId>,
    ) -> Result<(), MatrixError> {
        let cell = self
            .joined
            .cell((room.to_owned(), user.map(ToOwned::to_owned)));
        cell.get_or_try_init(|| async {
            let join = || client.send(join_room_by_id::v3::Request::new(room.to_owned()), user);
            match (join().await, user) {
                (Ok(_), _) => Ok(()),
                (Err(e), Some(ghost)) if e.is("M_FORBIDDEN") => {
                    debug!(room = %room, ghost = %ghost, "inviting the ghost");
                    invite(client, room, ghost).await?;
                    join().await.map(|_| ())
                }
                (Err(e), _) => Err(e),
            }
        })
        .await?;
        Ok(())
    }
}

/// The bot invites `user` into `room`.
///
/// # Errors
/// The homeserver's.
pub async fn invite(
    client: &MatrixClient,
    room: &RoomId,
    user: &UserId,
) -> Result<(), MatrixError> {
    let recipient = InviteUserId::new(user.to_owned()).into();
    client
        .send(
            invite_user::v3::Request::new(room.to_owned(), recipient),
            None,
        )
        .await?;
    Ok(())
}
