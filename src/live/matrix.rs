//! The Matrix live side: the appservice listener (transactions written to the inbox) and the
//! pump handing the inbox to the relay.

use std::sync::Arc;

use adapter_matrix::{
    MatrixClient, MatrixSink,
    appservice::{self, Inbox, KnownRooms, Listening, Ours},
};
use anyhow::Context;
use bridge_config::Config;
use bridge_core::{ChatRef, MappingStore, Platform, relay::Queued};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// The running Matrix side.
pub struct MatrixLive {
    /// The listener: stop it after the relay, so transactions arriving meanwhile are kept.
    pub listening: Listening,
    /// The pump: ends on shutdown, or with the store's error.
    pub task: JoinHandle<anyhow::Result<()>>,
    /// The rooms the listener takes events from (rooms of links added later join them).
    pub rooms: KnownRooms,
}

/// Listens on `matrix.listen` for the rooms among `chats`, pings the homeserver so it sends
/// what it queued, and hands the inbox to `out`.
///
/// # Errors
/// When `[matrix]` is missing or incomplete, or the listener cannot be bound.
pub async fn start_matrix(
    config: &Config,
    store: &MappingStore,
    sink: &MatrixSink,
    chats: &[ChatRef],
    out: mpsc::Sender<Queued>,
    shutdown: CancellationToken,
) -> anyhow::Result<MatrixLive> {
    let section = config
        .matrix
        .as_ref()
        .context("links relay to Matrix but the mapping file has no [matrix] section")?;
    let rooms = KnownRooms::default();
    for chat in chats.iter().filter(|c| c.platform == Platform::Matrix) {
        rooms.insert(&chat.chat);
    }
    let listening = appservice::start(section, sink.client(), store.clone(), rooms.clone())
        .await
        .context("cannot receive from the Matrix homeserver")?;
    let client = Arc::new(MatrixClient::for_config(section)?);
    let ours = Ours::new(client.bot().to_owned(), &section.ghost_prefix);
    let inbox = Arc::new(Inbox::new(store.clone(), client, ours));
    let arrivals = listening.arrivals();
    let task = tokio::spawn(async move {
        appservice::pump(inbox, arrivals, out, shutdown)
            .await
            .context("the Matrix inbox cannot be read")
    });
    Ok(MatrixLive {
        listening,
        task,
        rooms,
    })
}
