//! A whole team in one step: a mapping file of two pattern links (`acme#*`, `direct:*`)
//! migrates a generated team with subteams, nine channels and two direct conversations, each
//! chat into its own room in the team's spaces, every message once.

use std::fs;

use adapter_keybase::export::chat_info;
use adapter_matrix::{
    localpart,
    testing::{synapse, unique_prefix},
};
use bridge_core::ChatId;

use super::{
    Bridge,
    verify::{expected, verify_room},
};
use crate::{
    support::{kbbridge, text},
    team::{CHATS, team_export},
};

/// A bridge on the shared Synapse for the generated team's export, with the `[[link]]` tables
/// `links`; the export's path.
fn team_bridge(links: &str) -> (Bridge, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let export = team_export(dir.path());
    let config = dir.path().join("kbbridge.toml");
    fs::write(
        &config,
        format!(
            "[keybase]\nexport = {:?}\n\n[matrix]\nserver_name = \"localhost\"\n\n{links}",
            export.display().to_string()
        ),
    )
    .unwrap();
    let bridge = Bridge {
        dir,
        config,
        prefix: unique_prefix(),
        synapse: synapse(),
    };
    (bridge, export)
}

/// The full alias of the alias localpart `local` (which holds the prefix already).
fn full(bridge: &Bridge, local: &str) -> String {
    format!("#{local}:{}", bridge.synapse.server_name)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_pattern_links_migrate_a_whole_team_with_its_subteams_and_direct_chats() {
    let (bridge, export) = team_bridge(
        "[[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\nmatrix = \"auto\"\n\n\
         [[link]]\nname = \"direct\"\nkeybase = \"direct:*\"\nmatrix = \"auto\"\n",
    );

    let check = bridge.run(&["check"]);
    let stdout = text(&check.stdout);
    assert!(check.status.success(), "{stdout}\n{}", text(&check.stderr));
    assert!(stdout.contains("acme (acme#*): 9 chat(s)"), "{stdout}");
    assert!(stdout.contains("direct (direct:*): 2 chat(s)"), "{stdout}");

    let out = bridge.run(&["backfill"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let read = bridge.synapse.read_back();
    let expected = expected(&export).await;
    let mut events = 0;
    for (name, topic) in CHATS {
        let chat = if topic.is_empty() {
            name.to_owned()
        } else {
            format!("{name}#{topic}")
        };
        let info = chat_info::describe(&ChatId::new(chat.as_str()), None);
        let alias = localpart::room_alias(&bridge.prefix, &info);
        let room = read.alias(&full(&bridge, &alias)).await.unwrap();
        events += verify_room(&bridge, &read, &room, &expected[chat.as_str()]).await;
    }
    assert!(events >= 11 * 6, "only {events} events");

    // The rooms sit in the team's spaces: acme ⊃ acme.ops ⊃ acme.ops.oncall ⊃ pager.
    let oncall = read
        .alias(&full(
            &bridge,
            &localpart::space_alias(
                &bridge.prefix,
                &["acme".into(), "ops".into(), "oncall".into()],
            ),
        ))
        .await
        .unwrap();
    let ops = read
        .alias(&full(
            &bridge,
            &localpart::space_alias(&bridge.prefix, &["acme".into(), "ops".into()]),
        ))
        .await
        .unwrap();
    let tree = read.hierarchy(&ops).await.unwrap();
    let children: Vec<&str> =
        tree.iter().find(|r| r["room_id"] == ops.as_str()).unwrap()["children_state"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["state_key"].as_str())
            .collect();
    assert!(children.contains(&oncall.as_str()), "{children:?}");
    assert_eq!(
        children.len(),
        4,
        "alerts, deploys, incidents and the oncall space"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_writes_a_mapping_file_that_checks_plans_and_migrates_with_no_hand_edit() {
    let dir = tempfile::tempdir().unwrap();
    let export = team_export(dir.path());
    let config = dir.path().join("kbbridge.toml");
    let synapse = synapse();
    let init = kbbridge()
        .args(["--config", config.to_str().unwrap(), "init"])
        .arg(&export)
        .args(["--matrix", &synapse.server_name, "--homeserver"])
        .arg(synapse.url.as_str())
        .output()
        .unwrap();
    let stdout = text(&init.stdout);
    assert!(init.status.success(), "{stdout}\n{}", text(&init.stderr));
    assert!(
        stdout.contains("next: set KBBRIDGE__MATRIX__AS_TOKEN"),
        "{stdout}"
    );
    let written = fs::read_to_string(&config).unwrap();
    assert!(written.contains("keybase = \"acme#*\""), "{written}");
    assert!(written.contains("keybase = \"direct:*\""), "{written}");
    assert!(
        !written.contains("as_token ="),
        "no secret in the file: {written}"
    );

    // A second init never overwrites it.
    let again = kbbridge()
        .args(["--config", config.to_str().unwrap(), "init"])
        .arg(&export)
        .args(["--matrix", "elsewhere.org"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(fs::read_to_string(&config).unwrap(), written);

    let bridge = Bridge {
        dir,
        config,
        prefix: unique_prefix(),
        synapse,
    };
    for command in ["check", "plan", "backfill"] {
        let out = bridge.run(&[command]);
        assert!(
            out.status.success(),
            "{command}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let read = bridge.synapse.read_back();
    let expected = expected(&export).await;
    for (name, topic) in CHATS {
        let chat = if topic.is_empty() {
            name.to_owned()
        } else {
            format!("{name}#{topic}")
        };
        let info = chat_info::describe(&ChatId::new(chat.as_str()), None);
        let room = read
            .alias(&full(
                &bridge,
                &localpart::room_alias(&bridge.prefix, &info),
            ))
            .await
            .unwrap();
        verify_room(&bridge, &read, &room, &expected[chat.as_str()]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_a_complete_migration_and_names_each_copy_changed_by_hand() {
    let (bridge, _) =
        team_bridge("[[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\nmatrix = \"auto\"\n");
    let out = bridge.run(&["backfill"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = bridge.run(&["verify"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("9 target chat(s) verified, 0 with problems"),
        "{stdout}"
    );

    // By hand in acme#dev's room: message 1's copy redacted, message 2's posted again by its
    // ghost, message 4's edited by its ghost.
    let read = bridge.synapse.read_back();
    let info = chat_info::describe(&ChatId::new("acme#dev"), None);
    let room = read
        .alias(&full(
            &bridge,
            &localpart::room_alias(&bridge.prefix, &info),
        ))
        .await
        .unwrap();
    let events = read.messages(&room).await.unwrap();
    let copy = |n: u64| -> serde_json::Value {
        events
            .iter()
            .find(|e| e["content"]["body"] == format!("acme#dev message {n}").as_str())
            .cloned()
            .unwrap()
    };
    let path = |kind: &str, sender: &str, txn: &str| {
        format!(
            "/_matrix/client/v3/rooms/{}/{kind}/{txn}?user_id={}",
            adapter_matrix::testing::segment(&room),
            adapter_matrix::testing::segment(sender)
        )
    };
    let first = copy(1);
    let bot = bridge.bot();
    read.put(
        &format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/hand-1?user_id={}",
            adapter_matrix::testing::segment(&room),
            adapter_matrix::testing::segment(first["event_id"].as_str().unwrap()),
            adapter_matrix::testing::segment(&bot)
        ),
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    let second = copy(2);
    let sender = second["sender"].as_str().unwrap();
    read.put(
        &path("send/m.room.message", sender, "hand-2"),
        &second["content"],
    )
    .await
    .unwrap();
    let fourth = copy(4);
    let sender = fourth["sender"].as_str().unwrap();
    read.put(
        &path("send/m.room.message", sender, "hand-3"),
        &serde_json::json!({
            "msgtype": "m.text", "body": "* changed",
            "m.new_content": {"msgtype": "m.text", "body": "changed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": fourth["event_id"]},
        }),
    )
    .await
    .unwrap();

    let out = bridge.run(&["verify"]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("8 target chat(s) verified, 1 with problems"),
        "{stdout}"
    );
    assert!(stdout.contains("acme/acme#dev → matrix:"), "{stdout}");
    assert!(stdout.contains("FAILED: 3 problem(s)"), "{stdout}");
    assert!(
        stdout.contains("keybase:acme#dev:1 part 0: missing on the target"),
        "{stdout}"
    );
    assert!(
        stdout.contains("keybase:acme#dev:2 part 0: also posted as"),
        "{stdout}"
    );
    assert!(
        stdout.contains("keybase:acme#dev:4 part 0: edited on the target"),
        "{stdout}"
    );
}
