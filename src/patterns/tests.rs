//! Expansion against a list of chats, from mapping files loaded as the operator writes them.

use std::path::Path;

use bridge_core::{ChatId, Platform, links::LinkMode};

use super::expand;

fn load(dir: &Path, links: &str) -> bridge_config::Config {
    let toml = format!(
        "[keybase]\nexport = \"export.jsonl\"\n\n[matrix]\nhomeserver = \"http://127.0.0.1:8008\"\n\
         server_name = \"x\"\nas_token = \"a\"\nhs_token = \"h\"\n\n{links}"
    );
    let path = dir.join("kbbridge.toml");
    std::fs::write(&path, toml).unwrap();
    bridge_config::load_with_env(&path, Vec::<(String, String)>::new()).unwrap()
}

fn chats(names: &[&str]) -> Vec<ChatId> {
    names.iter().map(|n| ChatId::new(*n)).collect()
}

#[test]
fn a_team_pattern_takes_every_channel_of_the_team_and_its_subteams() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = load(
        dir.path(),
        "[[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\nmatrix = \"auto\"\nmode = \"both\"\n\n\
         [[link]]\nname = \"dms\"\nkeybase = \"direct:*\"\nmatrix = \"auto\"\n",
    );
    let all = chats(&[
        "acme#general",
        "acme.ops#alerts",
        "acmecorp#general",
        "alice,bob",
        "alice,bob,carol",
    ]);
    let report = expand(&mut config, &all);
    let names: Vec<&str> = config.links.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "acme/acme#general",
            "acme/acme.ops#alerts",
            "dms/alice,bob",
            "dms/alice,bob,carol"
        ]
    );
    let general = &config.links[0];
    assert_eq!(general.link.source.chat.as_str(), "acme#general");
    assert_eq!(general.link.mode, LinkMode::Both);
    assert!(general.is_auto(Platform::Matrix) && general.is_named("acme"));
    assert_eq!(report.len(), 2);
    assert_eq!(report[0].chats.len(), 2, "acmecorp is another team");
}

#[test]
fn an_explicit_link_overrides_the_pattern_and_the_narrowest_pattern_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = load(
        dir.path(),
        "[[link]]\nname = \"acme\"\nkeybase = \"acme#*\"\nmatrix = \"auto\"\n\n\
         [[link]]\nname = \"ops\"\nkeybase = \"acme.ops#*\"\nmatrix = \"auto\"\nmode = \"relay\"\n\n\
         [[link]]\nname = \"random\"\nkeybase = \"acme#random\"\nmode = \"skip\"\n\n\
         [[link]]\nname = \"main\"\nkeybase = \"acme#general\"\nmatrix = \"!room:x\"\n",
    );
    let all = chats(&["acme#general", "acme#random", "acme#dev", "acme.ops#alerts"]);
    expand(&mut config, &all);
    let got: Vec<(&str, &str, LinkMode)> = config
        .links
        .iter()
        .map(|l| (l.name(), l.link.source.chat.as_str(), l.link.mode))
        .collect();
    assert_eq!(
        got,
        [
            ("acme/acme#dev", "acme#dev", LinkMode::Backfill),
            ("ops/acme.ops#alerts", "acme.ops#alerts", LinkMode::Relay),
            ("main", "acme#general", LinkMode::Backfill),
        ]
    );
}

#[test]
fn validation_refuses_what_cannot_be_a_pattern_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kbbridge.toml");
    std::fs::write(
        &path,
        "[keybase]\nexport = \"e.jsonl\"\n[matrix]\nhomeserver = \"http://h\"\nserver_name = \"x\"\n\
         as_token = \"a\"\nhs_token = \"h\"\n\n\
         [[link]]\nname = \"a\"\nkeybase = \"../../tmp#*\"\nmatrix = \"auto\"\n\n\
         [[link]]\nname = \"b\"\nkeybase = \"acme#*\"\nmatrix = \"!room:x\"\n\n\
         [[link]]\nname = \"c\"\nkeybase = \"acme#*\"\nmode = \"skip\"\nmatrix = \"auto\"\n\n\
         [[link]]\nname = \"d\"\nkeybase = \"../../tmp#general\"\nmatrix = \"auto\"\n",
    )
    .unwrap();
    let err = bridge_config::load_with_env(&path, Vec::<(String, String)>::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("link[0].keybase: \"../../tmp#*\" is not a pattern"),
        "{err}"
    );
    assert!(
        err.contains("link[1].matrix: a link naming many chats"),
        "{err}"
    );
    assert!(
        err.contains("link[2].mode: \"skip\" leaves out one chat"),
        "{err}"
    );
    assert!(
        err.contains("link[3].keybase: \"../../tmp#general\" is not a Keybase chat"),
        "{err}"
    );
}
