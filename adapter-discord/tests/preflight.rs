//! `preflight` (what `kbbridge check` asks Discord) against the stand-in: the token, the
//! guild, the bot's permissions computed from roles, and named channels.

mod common;

use adapter_discord::preflight::preflight;
use bridge_core::{
    ChatId, Secret,
    preflight::{Report, Verdict},
};
use common::rig;
use discord_standin::{BOT_DEFAULT, CATEGORY, Limits};
use serenity::model::Permissions;

async fn check(config: &adapter_discord::config::DiscordConfig, named: &[(&str, u64)]) -> Report {
    let named: Vec<(String, ChatId)> = named
        .iter()
        .map(|(l, c)| ((*l).to_owned(), ChatId::from(c.to_string())))
        .collect();
    preflight(config, &named, 2, false).await
}

fn verdict(report: &Report, check: &str) -> Verdict {
    report
        .get(check)
        .unwrap_or_else(|| panic!("no {check} finding: {report:#?}"))
        .verdict
}

fn text<'a>(report: &'a Report, check: &str) -> &'a str {
    &report
        .get(check)
        .unwrap_or_else(|| panic!("no {check}: {report:#?}"))
        .text
}

#[tokio::test]
async fn a_ready_guild_passes_every_check() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let general = r.channel("general");
    let report = check(&r.config(), &[("l0", general)]).await;
    assert_eq!(report.problems().count(), 0, "{report:#?}");
    for c in ["token", "guild", "permissions", "channel"] {
        assert_eq!(verdict(&report, c), Verdict::Ok, "{report:#?}");
    }
    assert!(text(&report, "channel").contains(&format!("discord:{general} is reachable")));
    assert_eq!(report.get("channel").unwrap().link.as_deref(), Some("l0"));
}

#[tokio::test]
async fn a_wrong_token_is_named_and_nothing_else_is_asked() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let mut config = r.config();
    config.token = Secret::new("not-the-token");
    let report = check(&config, &[("l0", r.channel("general"))]).await;
    assert_eq!(verdict(&report, "token"), Verdict::Problem);
    assert!(
        text(&report, "token").contains("the bot token is wrong"),
        "{report:#?}"
    );
    assert!(
        !format!("{report:?}").contains("not-the-token"),
        "the token leaked"
    );
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    assert_eq!(r.standin.stats().invalid, 1, "one request, refused");
}

#[tokio::test]
async fn a_guild_the_bot_is_not_in_is_named() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let general = r.channel("general");
    for guild in [r.standin.other_guild_id(), 112233445566778899] {
        let mut config = r.config();
        config.guild_id = guild.to_string().parse().unwrap();
        let report = check(&config, &[("l0", general)]).await;
        assert_eq!(verdict(&report, "token"), Verdict::Ok);
        assert_eq!(verdict(&report, "guild"), Verdict::Problem, "{report:#?}");
        let t = text(&report, "guild");
        assert!(
            t.contains(&format!("the bot is not in server {guild}")),
            "{t}"
        );
        assert!(
            t.contains("oauth2/authorize?client_id="),
            "says how to invite it: {t}"
        );
        // The channel is not checked against a guild that cannot be read, and says so.
        assert_eq!(verdict(&report, "channel"), Verdict::Note);
        assert_eq!(report.problems().count(), 1, "{report:#?}");
    }
}

#[tokio::test]
async fn missing_permissions_are_each_named() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let guild = r.standin.guild_id();
    // @everyone may only view; the bot's role lacks Manage Webhooks and Attach Files.
    r.standin
        .set_role_permissions(guild, Permissions::VIEW_CHANNEL.bits());
    let without = Permissions::from_bits_retain(BOT_DEFAULT)
        - Permissions::MANAGE_WEBHOOKS
        - Permissions::ATTACH_FILES;
    r.standin
        .set_role_permissions(r.standin.bot_role_id(), without.bits());
    let report = check(&r.config(), &[]).await;
    assert_eq!(verdict(&report, "guild"), Verdict::Ok);
    assert_eq!(verdict(&report, "permissions"), Verdict::Problem);
    let t = text(&report, "permissions");
    assert!(
        t.contains("lacks Attach Files, Manage Webhooks in server"),
        "{t}"
    );
    assert!(!t.contains("Send Messages"), "{t}");

    // Without "auto" targets, Manage Channels is not needed; with them it is.
    r.standin.set_role_permissions(r.standin.bot_role_id(), 0);
    r.standin.set_role_permissions(
        guild,
        (Permissions::from_bits_retain(BOT_DEFAULT) - Permissions::MANAGE_CHANNELS).bits(),
    );
    let named_only = preflight(&r.config(), &[], 0, false).await;
    assert_eq!(
        verdict(&named_only, "permissions"),
        Verdict::Ok,
        "{named_only:#?}"
    );
    let auto = check(&r.config(), &[]).await;
    assert!(
        text(&auto, "permissions").contains("lacks Manage Channels in"),
        "{auto:#?}"
    );
}

#[tokio::test]
async fn administrator_and_ownership_grant_everything() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let guild = r.standin.guild_id();
    r.standin.set_role_permissions(guild, 0);
    r.standin.set_role_permissions(r.standin.bot_role_id(), 0);
    let report = check(&r.config(), &[]).await;
    assert_eq!(verdict(&report, "permissions"), Verdict::Problem);

    let admin = r
        .standin
        .add_role("admins", Permissions::ADMINISTRATOR.bits());
    r.standin.set_bot_roles(&[r.standin.bot_role_id(), admin]);
    let report = check(&r.config(), &[]).await;
    assert_eq!(verdict(&report, "permissions"), Verdict::Ok, "{report:#?}");
    assert!(text(&report, "permissions").contains("administrator"));

    r.standin.set_bot_roles(&[]);
    r.standin.set_owner(r.standin.bot_id());
    let report = check(&r.config(), &[]).await;
    assert_eq!(verdict(&report, "permissions"), Verdict::Ok, "{report:#?}");
    assert!(text(&report, "permissions").contains("owns the server"));
}

#[tokio::test]
async fn named_channels_must_exist_in_the_guild_and_be_usable() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let general = r.channel("general");
    let private = r.channel("secret");
    r.standin.set_private(private, true);
    let category = r.standin.create_channel("Teams", CATEGORY, None);
    let missing = 123456789012345678;
    let report = check(
        &r.config(),
        &[
            ("ok", general),
            ("gone", missing),
            ("hidden", private),
            ("cat", category),
        ],
    )
    .await;
    let by_link = |link: &str| {
        report
            .findings
            .iter()
            .find(|f| f.link.as_deref() == Some(link))
            .unwrap_or_else(|| panic!("no finding for {link}: {report:#?}"))
    };
    assert_eq!(by_link("ok").verdict, Verdict::Ok);
    let gone = by_link("gone");
    assert_eq!(gone.verdict, Verdict::Problem);
    assert!(
        gone.text
            .contains(&format!("discord:{missing}: no such channel")),
        "{}",
        gone.text
    );
    let hidden = by_link("hidden");
    assert_eq!(hidden.verdict, Verdict::Problem);
    assert!(
        hidden.text.contains("lacks View Channel in this channel"),
        "{}",
        hidden.text
    );
    let cat = by_link("cat");
    assert_eq!(cat.verdict, Verdict::Problem);
    assert!(cat.text.contains("not a text channel"), "{}", cat.text);
    assert_eq!(report.problems().count(), 3, "{report:#?}");

    // An administrator sees the private channel whatever its overwrites say.
    let admin = r
        .standin
        .add_role("admins", Permissions::ADMINISTRATOR.bits());
    r.standin.set_bot_roles(&[admin]);
    let report = check(&r.config(), &[("hidden", private)]).await;
    assert_eq!(report.problems().count(), 0, "{report:#?}");
}

/// A guild near Discord's 500 channels: the "auto" links may not fit, which is said.
#[tokio::test]
async fn a_full_guild_is_noted() {
    let r = rig(Limits::discord(), 1 << 20).await;
    for i in 0..499 {
        r.channel(&format!("c{i}"));
    }
    let report = preflight(&r.config(), &[], 1, false).await;
    assert!(
        report.get("channels").is_none(),
        "one more fits: {report:#?}"
    );
    let report = preflight(&r.config(), &[], 3, false).await;
    let (text, verdict) = (text(&report, "channels"), verdict(&report, "channels"));
    assert_eq!(verdict, Verdict::Note);
    assert!(
        text.contains("the server has 499 of the 500 channels"),
        "{text}"
    );
    assert!(
        text.contains("allows; the 3 \"auto\" link(s) may need"),
        "{text}"
    );
    assert_eq!(report.problems().count(), 0, "{report:#?}");
}

/// `ca_file` is what makes the stand-in trusted: without it its certificate is refused, and an
/// unreadable one is a finding of its own.
#[tokio::test]
async fn the_ca_file_decides_whom_the_client_trusts() {
    let r = rig(Limits::discord(), 1 << 20).await;
    let mut config = r.config();
    config.ca_file = None;
    let report = preflight(&config, &[], 0, false).await;
    assert_eq!(verdict(&report, "token"), Verdict::Problem, "{report:#?}");
    assert_eq!(r.standin.stats().requests, 0, "no request got through TLS");

    config.ca_file = Some(r.dir.path().join("missing.pem"));
    let report = preflight(&config, &[], 0, false).await;
    assert_eq!(verdict(&report, "ca_file"), Verdict::Problem, "{report:#?}");
    let t = text(&report, "ca_file");
    assert!(
        t.contains("cannot read") && t.contains("missing.pem"),
        "{t}"
    );
    assert!(report.get("token").is_none(), "{report:#?}");

    std::fs::write(r.dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    config.ca_file = Some(r.dir.path().join("empty.pem"));
    let report = preflight(&config, &[], 0, false).await;
    assert!(
        text(&report, "ca_file").contains("no certificate"),
        "{report:#?}"
    );
}

/// A relaying link needs the Message Content intent: the check reads the bot's application
/// and names the fix when the intent is off; a backfill alone does not ask.
#[tokio::test]
async fn a_relay_needs_the_message_content_intent() {
    let granted = rig(Limits::discord(), 1 << 20).await;
    let report = preflight(&granted.config(), &[], 0, true).await;
    assert_eq!(verdict(&report, "intents"), Verdict::Ok, "{report:#?}");

    let refused = common::rig_with(discord_standin::StandInOptions {
        privileged_intents: 0,
        ..discord_standin::StandInOptions::default()
    })
    .await;
    let report = preflight(&refused.config(), &[], 0, true).await;
    assert_eq!(verdict(&report, "intents"), Verdict::Problem, "{report:#?}");
    let t = text(&report, "intents");
    assert!(
        t.contains("Message Content Intent") && t.contains("Developer Portal"),
        "{t}"
    );
    let report = preflight(&refused.config(), &[], 0, false).await;
    assert!(report.get("intents").is_none(), "{report:#?}");
}
