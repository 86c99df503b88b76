//! A whole team into the Discord stand-in: two pattern links (`acme#*`, `direct:*`), each chat
//! into its own channel under its team's or subteam's category, every message once; `verify`
//! passes, then names each message whose copy was deleted, posted twice or edited by hand.

use discord_standin::{StandIn, StandInOptions};

use crate::{
    support::{kbbridge_on, text},
    team::{CHATS, team_export},
};

/// Runs `kbbridge ARGS` on `dir`'s mapping file against `standin`: (success, stdout, stderr).
fn kbbridge(standin: &StandIn, dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = kbbridge_on(standin, &dir.join("ca.pem"))
        .arg("--config")
        .arg(dir.join("kbbridge.toml"))
        .args(args)
        .env("KBBRIDGE__DISCORD__TOKEN", standin.token())
        .output()
        .expect("run kbbridge");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_migrates_into_discord_categories_and_verify_names_what_was_changed_by_hand() {
    let standin = StandIn::start(StandInOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let export = team_export(dir.path());
    std::fs::write(dir.path().join("ca.pem"), standin.ca_pem()).unwrap();
    std::fs::write(
        dir.path().join("kbbridge.toml"),
        format!(
            "[database]\nurl = \"sqlite://{db}\"\n\n[keybase]\nexport = {export:?}\n\n\
             [discord]\nguild_id = \"{guild}\"\n\n[backfill]\nparallel_links = 4\n\n\
             [[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\ndiscord = \"auto\"\n\n\
             [[link]]\nname = \"direct\"\nkeybase = \"direct:*\"\ndiscord = \"auto\"\n",
            db = dir.path().join("kb.db").display(),
            export = export.display().to_string(),
            guild = standin.guild_id(),
        ),
    )
    .unwrap();

    let (ok, stdout, stderr) = kbbridge(&standin, dir.path(), &["backfill"]);
    assert!(ok, "{stdout}\n{stderr}");
    let (ok, stdout, stderr) = kbbridge(&standin, dir.path(), &["verify"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("11 target chat(s) verified, 0 with problems"),
        "{stdout}"
    );

    // One text channel per chat, each under a category; one category per team and subteam.
    let channels = standin.channels();
    let text_channels: Vec<_> = channels.iter().filter(|c| c.kind == 0).collect();
    let categories: Vec<_> = channels.iter().filter(|c| c.kind == 4).collect();
    assert_eq!(text_channels.len(), CHATS.len(), "{channels:#?}");
    assert!(
        categories.len() >= 4,
        "acme, acme.ops, acme.ops.oncall, acme.sales: {channels:#?}"
    );
    let team_channels = text_channels.iter().filter(|c| !c.private).count();
    assert_eq!(
        team_channels, 9,
        "the direct conversations are private: {channels:#?}"
    );
    assert!(
        text_channels
            .iter()
            .filter(|c| !c.private)
            .all(|c| c.parent_id.is_some()),
        "every team channel in a category: {channels:#?}"
    );
    for (name, topic) in CHATS {
        let chat = if topic.is_empty() {
            name.to_owned()
        } else {
            format!("{name}#{topic}")
        };
        let copies = standin
            .all_messages()
            .iter()
            .filter(|m| !m.deleted && m.content.contains(&format!("{chat} message ")))
            .count();
        assert_eq!(copies, 5, "{chat}: every message once");
    }

    // By hand in acme#dev's channel: message 1's copy deleted, 2's posted twice, 4's edited.
    let dev = text_channels.iter().find(|c| c.name == "dev").unwrap().id;
    let find = |n: u64| {
        standin
            .messages(dev)
            .into_iter()
            .find(|m| m.content.contains(&format!("acme#dev message {n}")))
            .unwrap()
            .id
    };
    assert!(standin.delete_message(find(1)));
    assert!(standin.repost_message(find(2)).is_some());
    assert!(standin.edit_message(find(4), "changed by hand"));

    let (ok, stdout, _) = kbbridge(&standin, dir.path(), &["verify"]);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("10 target chat(s) verified, 1 with problems"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED: 3 problem(s)"), "{stdout}");
    for expected in [
        "keybase:acme#dev:1 part 0: missing on the target",
        "keybase:acme#dev:2 part 0: also posted as",
        "keybase:acme#dev:4 part 0: edited on the target",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
}
