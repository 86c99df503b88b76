//! The gateway's payloads `{op, d, s, t}` as JSON text, its opcodes and its close codes.

use serde_json::{Value, json};

/// An event (server → client).
pub(crate) const DISPATCH: u64 = 0;
/// A heartbeat (client → server; server → client: "heartbeat now").
pub(crate) const HEARTBEAT: u64 = 1;
/// IDENTIFY (client → server).
pub(crate) const IDENTIFY: u64 = 2;
/// Presence update (client → server).
pub(crate) const PRESENCE_UPDATE: u64 = 3;
/// Voice state update (client → server).
pub(crate) const VOICE_STATE_UPDATE: u64 = 4;
/// RESUME (client → server).
pub(crate) const RESUME: u64 = 6;
/// Reconnect and resume (server → client).
pub(crate) const RECONNECT: u64 = 7;
/// Request guild members (client → server).
pub(crate) const REQUEST_GUILD_MEMBERS: u64 = 8;
/// Request soundboard sounds (client → server).
pub(crate) const REQUEST_SOUNDBOARD_SOUNDS: u64 = 31;
/// Request channel info (client → server).
pub(crate) const REQUEST_CHANNEL_INFO: u64 = 43;
/// Invalid session, `d`: whether it may be resumed (server → client).
pub(crate) const INVALID_SESSION: u64 = 9;
/// HELLO `{heartbeat_interval}` (server → client).
pub(crate) const HELLO: u64 = 10;
/// Heartbeat acknowledged (server → client).
pub(crate) const HEARTBEAT_ACK: u64 = 11;

/// Close codes Discord uses, with the reasons it gives.
pub(crate) mod close {
    /// Unknown error; the client may resume.
    pub(crate) const UNKNOWN_ERROR: (u16, &str) = (4000, "Unknown error.");
    /// An opcode the gateway does not take.
    pub(crate) const UNKNOWN_OPCODE: (u16, &str) = (4001, "Unknown opcode.");
    /// A payload that is not valid JSON, not the expected shape, or over 4096 bytes.
    pub(crate) const DECODE_ERROR: (u16, &str) = (4002, "Decode error.");
    /// A payload other than IDENTIFY, RESUME or a heartbeat before identifying.
    pub(crate) const NOT_AUTHENTICATED: (u16, &str) = (4003, "Not authenticated.");
    /// A wrong token in IDENTIFY or RESUME.
    pub(crate) const AUTHENTICATION_FAILED: (u16, &str) = (4004, "Authentication failed.");
    /// A second IDENTIFY on one connection.
    pub(crate) const ALREADY_AUTHENTICATED: (u16, &str) = (4005, "Already authenticated.");
    /// RESUME with a sequence number the session never reached.
    pub(crate) const INVALID_SEQ: (u16, &str) = (4007, "Invalid seq.");
    /// A shard other than `[0, 1]` (the stand-in does not shard).
    pub(crate) const INVALID_SHARD: (u16, &str) = (4010, "Invalid shard.");
    /// `?v=` other than 10.
    pub(crate) const INVALID_VERSION: (u16, &str) = (4012, "Invalid API version.");
    /// Intent bits Discord does not define.
    pub(crate) const INVALID_INTENTS: (u16, &str) = (4013, "Invalid intent(s).");
    /// A privileged intent the application has not been granted.
    pub(crate) const DISALLOWED_INTENTS: (u16, &str) = (4014, "Disallowed intent(s).");
}

/// The largest payload a client may send (Discord closes with 4002 past it).
pub(crate) const MAX_CLIENT_PAYLOAD: usize = 4096;

/// A payload that is not an event (`s` and `t` null).
pub(crate) fn op(op: u64, d: Value) -> String {
    json!({ "op": op, "d": d, "s": null, "t": null }).to_string()
}

/// An event with its sequence number.
pub(crate) fn dispatch(name: &str, seq: u64, d: &Value) -> String {
    json!({ "op": DISPATCH, "d": d, "s": seq, "t": name }).to_string()
}

/// HELLO with the heartbeat interval in milliseconds.
pub(crate) fn hello(interval_ms: u64) -> String {
    op(HELLO, json!({ "heartbeat_interval": interval_ms }))
}
