//! The bot's application (`GET /oauth2/applications/@me`): whether the privileged Message
//! Content intent the live relay needs is enabled, asked before a gateway session would be
//! refused with 4014.

use bridge_core::preflight::{Report, Verdict};
use serde::Deserialize;
use serenity::http::{LightMethod, Request, Route};

use crate::client::Rest;

/// GATEWAY_MESSAGE_CONTENT: enabled for an application in fewer than 100 guilds.
const MESSAGE_CONTENT: u64 = 1 << 18;
/// GATEWAY_MESSAGE_CONTENT_LIMITED: the same for a verified application, once approved.
const MESSAGE_CONTENT_LIMITED: u64 = 1 << 19;

#[derive(Deserialize)]
struct Application {
    #[serde(default)]
    flags: u64,
}

/// Whether the bot's application has the Message Content intent; a finding of `report`.
pub(crate) async fn check_message_content(rest: &Rest, report: &mut Report) {
    let req = Request::new(Route::Oauth2ApplicationCurrent, LightMethod::Get);
    match rest
        .json::<Application>("read the bot's application", req)
        .await
    {
        Ok(app) if app.flags & (MESSAGE_CONTENT | MESSAGE_CONTENT_LIMITED) != 0 => report.add(
            "intents",
            Verdict::Ok,
            "the bot's application has the Message Content intent (the live relay reads messages)",
        ),
        Ok(_) => report.add(
            "intents",
            Verdict::Problem,
            "the bot's application lacks the Message Content intent, so the live relay cannot \
             read what people write: enable it in the Discord Developer Portal (your \
             application → Bot → Privileged Gateway Intents → Message Content Intent)",
        ),
        Err(e) => report.add(
            "intents",
            Verdict::Note,
            format!(
                "cannot read the bot's application to check the Message Content intent ({}); \
                 the live relay stops with the advice if it is missing",
                bridge_core::Report::new(&e)
            ),
        ),
    }
}
