//! What tests call on [`StandIn`] to watch the gateway, disturb its live sessions and deliver
//! a channel's events out of order.

use std::net::SocketAddr;

use super::{GatewayStats, SessionInfo, hub::ToClient};
use crate::StandIn;

impl StandIn {
    /// The gateway's address (`GET /gateway` answers `ws://{addr}`).
    pub fn gateway_addr(&self) -> SocketAddr {
        self.shared.gateway.addr
    }

    /// What the gateway counted so far.
    pub fn gateway_stats(&self) -> GatewayStats {
        self.shared.gateway.stats()
    }

    /// The sessions that can still be resumed, connected or not.
    pub fn gateway_sessions(&self) -> Vec<SessionInfo> {
        self.shared.gateway.sessions()
    }

    /// Sends op 7 (reconnect) on every live session's connection; how many.
    pub fn force_reconnect(&self) -> usize {
        self.shared.gateway.control(|| ToClient::Reconnect)
    }

    /// Sends op 9 (invalid session) on every live session's connection; how many. Not
    /// `resumable`: those sessions end at once, and a RESUME of them gets op 9 again.
    pub fn force_invalid_session(&self, resumable: bool) -> usize {
        self.shared
            .gateway
            .control(|| ToClient::InvalidSession(resumable))
    }

    /// Closes every live session's connection with close code `code` (4000: resumable;
    /// 4004, 4014: fatal to serenity); the sessions stay resumable. How many.
    pub fn close_gateway_connections(&self, code: u16) -> usize {
        self.shared.gateway.control(|| ToClient::Close(code))
    }

    /// Drops every live session's TCP connection without a close frame (a network failure);
    /// the sessions stay resumable. How many.
    pub fn drop_gateway_connections(&self) -> usize {
        self.shared.gateway.control(|| ToClient::Drop)
    }

    /// Holds the gateway events of `channel` from now on (its messages, edits, deletes and
    /// reactions, whether REST or a hook made them): the world changes as usual, but no
    /// session gets them until [`StandIn::release_dispatches`]. Holding a held channel again
    /// changes nothing.
    pub fn hold_dispatches(&self, channel: u64) {
        self.shared.gateway.hold(channel);
    }

    /// Stops holding `channel`'s events and sends those held out of order, as a gateway may
    /// deliver them: first the ones at `order`'s positions (0 is the first that happened), in
    /// that order, then the others in the order they happened (positions out of range or
    /// repeated are skipped). Each is numbered (`s`) as it is sent, so the sequence stays
    /// gapless and increasing. The events' names (`t`), in the order sent; empty if the
    /// channel was not held.
    pub fn release_dispatches(&self, channel: u64, order: &[usize]) -> Vec<&'static str> {
        self.shared.gateway.release(channel, order)
    }

    /// Stops (or resumes) answering heartbeats, as a zombie connection would.
    pub fn pause_heartbeat_acks(&self, paused: bool) {
        self.shared.gateway.pause_acks(paused);
    }
}
