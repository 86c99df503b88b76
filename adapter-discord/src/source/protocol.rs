//! What kbbridge sends on the gateway (IDENTIFY, RESUME, heartbeats) and what a close code
//! means for it, per Discord's opcodes-and-status-codes page (shared/reference/discord.md §3).

use serde_json::{Value, json};
use serenity::model::gateway::GatewayIntents;

/// The events kbbridge asks for: guilds (READY's guild list), guild messages, their
/// reactions, and their content (privileged: without it Discord blanks other people's text).
pub(crate) fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::MESSAGE_CONTENT
}

/// The bot token as the gateway takes it: without serenity's `Bot ` prefix.
pub(crate) fn bare_token(http_token: &str) -> &str {
    http_token.strip_prefix("Bot ").unwrap_or(http_token)
}

/// op 2 IDENTIFY. No `compress`: frames stay JSON text, so no zlib is needed.
pub(crate) fn identify(token: &str) -> String {
    json!({
        "op": 2,
        "d": {
            "token": token,
            "intents": intents().bits(),
            "properties": {
                "os": std::env::consts::OS,
                "browser": "kbbridge",
                "device": "kbbridge",
            },
        },
    })
    .to_string()
}

/// op 6 RESUME of `session` after sequence `seq`.
pub(crate) fn resume(token: &str, session: &str, seq: u64) -> String {
    json!({ "op": 6, "d": { "token": token, "session_id": session, "seq": seq } }).to_string()
}

/// op 1 HEARTBEAT with the last sequence seen.
pub(crate) fn heartbeat(seq: Option<u64>) -> String {
    json!({ "op": 1, "d": seq }).to_string()
}

/// The opcode, sequence number and event name of a frame, read before serenity parses the
/// rest, so that an event serenity cannot read still advances the sequence.
pub(crate) fn header(frame: &Value) -> (Option<u64>, Option<u64>, Option<&str>) {
    (
        frame.get("op").and_then(Value::as_u64),
        frame.get("s").and_then(Value::as_u64),
        frame.get("t").and_then(Value::as_str),
    )
}

/// What a close code from Discord tells kbbridge to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterClose {
    /// Reconnect and resume the session.
    Resume,
    /// Reconnect and identify again: the session is gone.
    Reidentify,
    /// Stop: nothing will work until the operator fixes this.
    Fatal(String),
}

/// The meaning of close code `code`.
pub(crate) fn after_close(code: u16) -> AfterClose {
    match code {
        4004 => AfterClose::Fatal(
            "Discord refused the bot token on the gateway (close code 4004 Authentication \
             failed): set the bot's current token in KBBRIDGE__DISCORD__TOKEN (Developer \
             Portal, your application, Bot page, Reset Token)"
                .into(),
        ),
        4014 => AfterClose::Fatal(
            "Discord refused the gateway intents (close code 4014 Disallowed intents): enable \
             the Message Content intent for the bot in the Discord Developer Portal (your \
             application, Bot page, Privileged Gateway Intents, Message Content Intent), then \
             start kbbridge again"
                .into(),
        ),
        4010..=4013 => AfterClose::Fatal(format!(
            "Discord closed the gateway with code {code} ({}): kbbridge cannot go on; upgrade \
             kbbridge or report this",
            match code {
                4010 => "Invalid shard",
                4011 => "Sharding required: the bot is in too many guilds for one connection",
                4012 => "Invalid API version",
                _ => "Invalid intents",
            }
        )),
        // Not authenticated, invalid sequence, session timed out: the session is lost.
        4003 | 4007 | 4009 => AfterClose::Reidentify,
        _ => AfterClose::Resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_asks_for_message_content_and_no_compression() {
        let v: Value = serde_json::from_str(&identify("t")).unwrap();
        assert_eq!(v["d"]["intents"], 1 | (1 << 9) | (1 << 10) | (1 << 15));
        assert!(v["d"].get("compress").is_none());
        assert_eq!(bare_token("Bot abc"), "abc");
    }

    #[test]
    fn close_codes() {
        assert!(matches!(after_close(4014), AfterClose::Fatal(m) if m.contains("Message Content")));
        assert!(matches!(after_close(4004), AfterClose::Fatal(m) if m.contains("token")));
        assert!(matches!(after_close(4013), AfterClose::Fatal(_)));
        assert_eq!(after_close(4009), AfterClose::Reidentify);
        assert_eq!(after_close(4000), AfterClose::Resume);
        assert_eq!(after_close(1006), AfterClose::Resume);
    }
}
