//! bridge-config against real files: every example loads, every broken file reports exactly
//! its problems, the environment overrides secrets, and secrets never show.

use std::{
    fs,
    path::{Path, PathBuf},
};

use bridge_config::{AUTO, ConfigError, load, load_str, load_with_env};
use bridge_core::{Platform, backfill::Rate, links::LinkMode};

/// What the examples' secrets are set to, through the injected environment.
const SECRETS: [(&str, &str); 3] = [
    (
        "KBBRIDGE__DISCORD__TOKEN",
        "discord-token-from-the-env-0123456789",
    ),
    (
        "KBBRIDGE__MATRIX__AS_TOKEN",
        "as-token-from-the-env-0123456789",
    ),
    (
        "KBBRIDGE__MATRIX__HS_TOKEN",
        "hs-token-from-the-env-0123456789",
    ),
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.toml` files of `dir`, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

fn example(name: &str) -> PathBuf {
    crate_dir().join("examples").join(name)
}

fn problem_paths(err: &ConfigError) -> Vec<&str> {
    err.problems().iter().map(|p| p.path.as_str()).collect()
}

/// Asserts that no secret value shows in `text`.
fn assert_no_secret(text: &str, extra: &[&str]) {
    for secret in SECRETS.iter().map(|(_, s)| *s).chain(extra.iter().copied()) {
        assert!(!text.contains(secret), "a secret shows in:\n{text}");
    }
}

#[test]
fn every_example_loads() {
    let files = toml_files(&crate_dir().join("examples"));
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    for expected in [
        "discord-migration.toml",
        "full.toml",
        "matrix-bridge.toml",
        "sample.toml",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for file in &files {
        let config = load_with_env(file, SECRETS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.path, *file);
        assert!(!config.links.is_empty(), "{} has no link", file.display());
        assert!(
            config.database_url.starts_with("sqlite:///")
                || config.database_url.starts_with("postgres://")
        );
        assert_no_secret(&format!("{config:?}"), &[]);
    }
}

#[test]
fn full_example_sets_every_key() {
    let config = load_with_env(&example("full.toml"), SECRETS).unwrap();
    let keybase = config.keybase.as_ref().unwrap();
    assert!(
        keybase
            .export
            .as_ref()
            .unwrap()
            .ends_with("config/examples/keybase-export/export.jsonl")
    );
    assert!(keybase.export.as_ref().unwrap().is_absolute());
    assert!(keybase.home.is_some() && keybase.username.is_some());
    let discord = config.discord.as_ref().unwrap();
    assert_eq!(discord.token.expose(), SECRETS[0].1);
    assert_eq!(discord.guild_id.get(), 112233445566778800);
    assert!(discord.api_base.is_some() && discord.avatar_url.is_some());
    assert!(
        discord
            .ca_file
            .as_ref()
            .unwrap()
            .ends_with("config/examples/private-ca.pem")
    );
    let matrix = config.matrix.as_ref().unwrap();
    assert_eq!(matrix.as_token.expose(), SECRETS[1].1);
    assert_eq!(matrix.hs_token.expose(), SECRETS[2].1);
    assert_eq!(matrix.users.len(), 2);
    assert_eq!(
        config.backfill.rates[&Platform::Keybase],
        Rate {
            per_second: 2.0,
            burst: 1
        }
    );
    assert_eq!(config.backfill.retry.max_delay.as_millis(), 60_000);
    assert!(config.database_url.ends_with("config/examples/kbbridge.db"));

    let admin = config.admin.as_ref().unwrap();
    assert_eq!(admin.listen.port(), 29334);
    assert_eq!(config.links.len(), 5);
    let ops = config.link("ops").unwrap();
    assert_eq!(
        ops.pattern,
        Some(adapter_keybase::config::ChatPattern::Team(
            "acme.ops".into()
        ))
    );
    assert_eq!(config.link("ops-noise").unwrap().link.mode, LinkMode::Skip);
    let general = config.link("general").unwrap();
    assert_eq!(general.link.mode, LinkMode::Both);
    assert_eq!(
        general.link.target(Platform::Matrix).unwrap().chat.as_str(),
        "!abcdefghijkl:example.org"
    );
    assert_eq!(general.fixed_targets().count(), 2);
    let dm = config.link("alice-bob").unwrap();
    assert!(dm.is_auto(Platform::Discord));
    assert_eq!(
        dm.link.target(Platform::Discord).unwrap().chat.as_str(),
        AUTO
    );
    assert_eq!(dm.link.source.chat.as_str(), "alice,bob");
}

#[test]
fn discord_migration_example_backfills_every_channel_to_discord() {
    let config = load_with_env(&example("discord-migration.toml"), SECRETS).unwrap();
    assert_eq!(config.links.len(), 4);
    assert!(
        config.matrix.is_none(),
        "the environment's Matrix tokens alone make no section"
    );
    for link in &config.links {
        assert_eq!(link.link.mode, LinkMode::Backfill);
        assert_eq!(link.link.targets.len(), 1);
        assert!(link.link.target(Platform::Discord).is_some());
    }
    assert_eq!(
        config
            .links
            .iter()
            .filter(|l| l.is_auto(Platform::Discord))
            .count(),
        3
    );
    assert!(config.uses(Platform::Discord) && !config.uses(Platform::Matrix));
}

#[test]
fn matrix_bridge_example_takes_its_secrets_from_the_environment() {
    let password = "db-password-0123456789";
    let db_url = format!("postgres://kbbridge:{password}@db.example.org/kbbridge");
    let env = SECRETS
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let env = env.chain([("KBBRIDGE__DATABASE__URL".to_owned(), db_url.clone())]);
    let config = load_with_env(&example("matrix-bridge.toml"), env).unwrap();
    assert_eq!(config.database_url, db_url);
    assert_eq!(
        config.matrix.as_ref().unwrap().as_token.expose(),
        SECRETS[1].1
    );
    assert!(config.discord.is_none());
    let modes: Vec<_> = config.links.iter().map(|l| l.link.mode).collect();
    assert_eq!(modes, [LinkMode::Both, LinkMode::Both, LinkMode::Relay]);
    let debug = format!("{config:?}");
    assert_no_secret(&debug, &[password]);
    assert!(
        debug.contains("postgres://kbbridge@db.example.org/kbbridge"),
        "{debug}"
    );
}

#[test]
fn sample_example_needs_no_environment() {
    let config = load_with_env(&example("sample.toml"), Vec::<(String, String)>::new()).unwrap();
    let names: Vec<_> = config.links.iter().map(|l| l.name()).collect();
    assert_eq!(names, ["general", "random", "ops-alerts", "alice-bob"]);
    let sources: Vec<_> = config
        .links
        .iter()
        .map(|l| l.link.source.chat.as_str())
        .collect();
    assert_eq!(
        sources,
        [
            "acme#general",
            "acme#random",
            "acme.ops#alerts",
            "alice,bob"
        ]
    );
    assert!(
        config
            .links
            .iter()
            .all(|l| l.is_auto(Platform::Matrix) && l.link.targets.len() == 1)
    );
    let export = config.keybase.unwrap().export.unwrap();
    assert!(export.is_absolute());
    assert!(export.ends_with("tests/fixtures/sample-export/export.jsonl"));
    assert!(config.database_url.starts_with("sqlite:///"));
    assert!(config.database_url.ends_with("/target/kbbridge-sample.db"));
    assert_eq!(
        config.matrix.unwrap().homeserver.unwrap().as_str(),
        "http://127.0.0.1:8008/"
    );
}

/// Each file in `tests/broken/` lists the key paths it must report in `# expect:` lines, in
/// file order; nothing else may be reported.
#[test]
fn broken_files_report_exactly_their_problems() {
    let files = toml_files(&crate_dir().join("tests/broken"));
    assert!(files.len() >= 6);
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# expect: "))
            .map(str::trim)
            .collect();
        assert!(!expected.is_empty(), "{} expects nothing", file.display());
        let err = load_with_env(&file, SECRETS).expect_err(&file.display().to_string());
        let shown = err.to_string();
        assert_eq!(
            problem_paths(&err),
            expected,
            "{}:\n{shown}",
            file.display()
        );
        assert!(
            shown.starts_with(&format!("error in {}:\n  - ", file.display())),
            "{shown}"
        );
        assert_no_secret(&shown, &[]);
        assert_no_secret(&format!("{err:?}"), &[]);
    }
}

#[test]
fn messages_name_the_key_and_the_fix() {
    let file = crate_dir().join("tests/broken/typos.toml");
    let shown = load_with_env(&file, SECRETS).unwrap_err().to_string();
    assert!(
        shown.contains(r#"  - link[1].discrod: unknown key (did you mean "discord"?)"#),
        "{shown}"
    );
    assert!(shown.contains(
        r#"backfill.rate.matrix.per_sec: unknown key (did you mean "messages_per_second"?)"#
    ));

    let file = crate_dir().join("tests/broken/links.toml");
    let err = load_with_env(&file, SECRETS).unwrap_err();
    let matrix = &err.problems()[0];
    assert_eq!(matrix.path, "link[0].matrix");
    assert_eq!(
        matrix.message,
        r#""room" is not a Matrix room ID (!id:server), alias (#name:server) or "auto""#
    );
    let shown = err.to_string();
    for expected in [
        r#"link[1].mode: "sync" is not one of "backfill", "relay", "both", "skip""#,
        r#"link[3].discord: link[0] ("general") already copies acme#general into this Discord channel"#,
        r#"link[4].discord: Discord channel 112233445566778899 is already the target of link[0] ("general")"#,
        r#"link[5].matrix: link[4] ("other") already copies acme#other into an "auto" Matrix room"#,
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in\n{shown}");
    }
}

#[test]
fn missing_tokens_say_where_to_set_them() {
    let toml = r#"
        [keybase]
        export = "x.jsonl"
        [discord]
        guild_id = "112233445566778800"
        [matrix]
        homeserver = "http://127.0.0.1:8008"
        server_name = "localhost"
        [[link]]
        name = "general"
        keybase = "acme#general"
        discord = "auto"
        matrix = "auto"
    "#;
    let err = load_str(toml, "inline.toml").unwrap_err();
    assert_eq!(
        problem_paths(&err),
        ["discord.token", "matrix.as_token", "matrix.hs_token"]
    );
    let shown = err.to_string();
    assert!(
        shown.contains("set discord.token or env KBBRIDGE__DISCORD__TOKEN"),
        "{shown}"
    );
    assert!(shown.contains("env KBBRIDGE__MATRIX__HS_TOKEN"), "{shown}");
}

#[test]
fn discord_connect_to_and_ca_file_come_from_the_environment_as_the_tests_set_them() {
    let file = example("discord-migration.toml");
    let env = [
        ("KBBRIDGE__DISCORD__CONNECT_TO", "127.0.0.1:8443"),
        ("KBBRIDGE__DISCORD__CA_FILE", "standin-ca.pem"),
    ];
    let config = load_with_env(&file, SECRETS.into_iter().chain(env)).unwrap();
    let discord = config.discord.as_ref().unwrap();
    assert_eq!(discord.connect_to, Some("127.0.0.1:8443".parse().unwrap()));
    assert_eq!(
        discord.ca_file.as_deref(),
        Some(file.with_file_name("standin-ca.pem").as_path())
    );

    let env = [("KBBRIDGE__DISCORD__CONNECT_TO", "discord.example:443")];
    let err = load_with_env(&file, SECRETS.into_iter().chain(env)).unwrap_err();
    assert_eq!(problem_paths(&err), ["discord.connect_to"], "{err}");
    // With api_base, requests go to the proxy: a connect_to would silently do nothing.
    let env = [("KBBRIDGE__DISCORD__CONNECT_TO", "127.0.0.1:8443")];
    let err = load_with_env(&example("full.toml"), SECRETS.into_iter().chain(env)).unwrap_err();
    assert_eq!(problem_paths(&err), ["discord.connect_to"], "{err}");
    assert!(err.to_string().contains("api_base"), "{err}");
}

#[test]
fn environment_overrides_the_file_and_names_its_variables() {
    let sample = example("sample.toml");
    let token = "override-as-token-0123456789";
    let env = [
        ("KBBRIDGE__MATRIX__AS_TOKEN", token),
        ("KBBRIDGE__BACKFILL__PAGE_SIZE", "50"),
    ];
    let config = load_with_env(&sample, env).unwrap();
    assert_eq!(config.matrix.as_ref().unwrap().as_token.expose(), token);
    assert_eq!(config.backfill.page_size, 50);
    assert_no_secret(&format!("{config:?}"), &[token]);

    let env = [
        ("KBBRIDGE__MATRIX__AS_TOKN", token),
        ("KBBRIDGE__BACKFILL__PAGE_SIZE", "lots"),
    ];
    let err = load_with_env(&sample, env).unwrap_err();
    assert_eq!(
        problem_paths(&err),
        ["matrix.as_tokn", "backfill.page_size"]
    );
    let shown = err.to_string();
    assert!(shown.contains(r#"did you mean "as_token"?), set by the environment variable KBBRIDGE__MATRIX__AS_TOKN"#), "{shown}");
    assert!(
        shown.contains("expected an integer, found a string (set by the environment)"),
        "{shown}"
    );
    assert_no_secret(&shown, &[token]);
}

#[test]
fn a_secret_pasted_at_another_key_is_masked() {
    let token = "as-token-pasted-twice-0123456789";
    let toml = format!(
        r#"
        [keybase]
        export = "x.jsonl"
        [matrix]
        homeserver = "{token}"
        server_name = "localhost"
        as_token = "{token}"
        hs_token = "hs"
        [[link]]
        name = "general"
        keybase = "acme#general"
        matrix = "auto"
        "#
    );
    let err = load_str(&toml, "inline.toml").unwrap_err();
    assert_eq!(problem_paths(&err), ["matrix.homeserver"]);
    assert_no_secret(&err.to_string(), &[token]);
    assert!(err.to_string().contains(r#""***""#), "{err}");
}

#[test]
fn toml_syntax_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kbbridge.toml");
    fs::write(
        &file,
        "[matrix]\nhomeserver = \"http://127.0.0.1:8008\"\nas_token = \"secret-token-0123\n",
    )
    .unwrap();
    let err = load(&file).unwrap_err();
    let ConfigError::Syntax { line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, Some(3));
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "error in {}: invalid TOML at line 3, column ",
            file.display()
        )),
        "{shown}"
    );
    assert!(!shown.contains("secret-token-0123"), "{shown}");
}

#[test]
fn unreadable_files_are_named() {
    let file = crate_dir().join("examples/no-such-file.toml");
    let err = load(&file).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("no-such-file.toml"), "{err}");
}

#[test]
fn paths_resolve_against_the_file_folder() {
    let toml = r#"
        [keybase]
        export = "export.jsonl"
        binary = "bin/keybase"
        [matrix]
        homeserver = "http://127.0.0.1:8008"
        server_name = "localhost"
        as_token = "as"
        hs_token = "hs"
        [[link]]
        name = "dm"
        keybase = "bob,alice"
        matrix = "auto"
    "#;
    let config = load_str(toml, "/etc/kbbridge/bridge.toml").unwrap();
    assert_eq!(config.database_url, "sqlite:///etc/kbbridge/kbbridge.db");
    let keybase = config.keybase.unwrap();
    assert_eq!(
        keybase.export.unwrap(),
        Path::new("/etc/kbbridge/export.jsonl")
    );
    assert_eq!(keybase.binary, Path::new("/etc/kbbridge/bin/keybase"));
    assert_eq!(config.links[0].link.source.chat.as_str(), "alice,bob");
}

#[test]
fn shared_instances_need_a_postgresql_database() {
    let links = r#"
        [[link]]
        name = "dm"
        keybase = "bob,alice"
        matrix = "auto"
        mode = "relay"
        [matrix]
        homeserver = "http://127.0.0.1:8008"
        server_name = "localhost"
        as_token = "as"
        hs_token = "hs"
    "#;
    let on_sqlite = format!("[database]\nshared = true\n{links}");
    let err = load_str(&on_sqlite, "/etc/kbbridge/bridge.toml").unwrap_err();
    let shown = err.to_string();
    assert_eq!(problem_paths(&err), ["database.shared"], "{shown}");
    assert!(shown.contains("needs a PostgreSQL database.url"), "{shown}");

    let on_postgres =
        format!("[database]\nshared = true\nurl = \"postgres://kb@db.example/kb\"\n{links}");
    let config = load_str(&on_postgres, "/etc/kbbridge/bridge.toml").unwrap();
    assert!(config.shared);
    let single = load_str(links, "/etc/kbbridge/bridge.toml").unwrap();
    assert!(!single.shared, "one instance by default");
}
