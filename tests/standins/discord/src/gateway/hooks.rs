//! What tests call on [`StandIn`] to watch the gateway and disturb its live sessions.

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

    /// Stops (or resumes) answering heartbeats, as a zombie connection would.
    pub fn pause_heartbeat_acks(&self, paused: bool) {
        self.shared.gateway.pause_acks(paused);
    }
}
