//! The commands that set a homeserver up from the sample mapping file: the appservice
//! registration kbbridge prints, and the README's `demo` on a Synapse of its own.

use std::{fs, path::Path, process::Command};

use adapter_matrix::testing::{Synapse, synapse};

use super::sample_export;
use crate::support::{root, text};

/// `kbbridge --config <config>` on the SQLite database `db`, with the tokens the mapping file
/// gives (none from the caller's environment).
fn kbbridge_with(config: &Path, db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
    cmd.arg("--config")
        .arg(config)
        .env(
            "KBBRIDGE__DATABASE__URL",
            format!("sqlite://{}", db.display()),
        )
        .env_remove("KBBRIDGE__MATRIX__AS_TOKEN")
        .env_remove("KBBRIDGE__MATRIX__HS_TOKEN");
    cmd
}

#[test]
fn matrix_registration_prints_an_exclusive_unlimited_appservice() {
    let dir = tempfile::tempdir().unwrap();
    let out = kbbridge_with(
        &root().join("config/examples/sample.toml"),
        &dir.path().join("x.db"),
    )
    .arg("matrix-registration")
    .output()
    .unwrap();
    let yaml = text(&out.stdout);
    assert!(out.status.success(), "{yaml}{}", text(&out.stderr));
    for line in [
        "as_token: \"sample-as-token-for-a-local-synapse\"",
        "hs_token: \"sample-hs-token-for-a-local-synapse\"",
        "sender_localpart: \"kbbridge\"",
        "rate_limited: false",
        "      regex: '@kb_.*:localhost'",
        "      regex: '#kb_.*:localhost'",
    ] {
        assert!(yaml.lines().any(|l| l == line), "no {line:?} in\n{yaml}");
    }
    assert_eq!(yaml.matches("exclusive: true").count(), 2, "{yaml}");
}

/// The README's main command, on a port of its own: sets up Synapse with the registration
/// kbbridge prints, replays the sample, shows the rooms; the second run sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_sets_up_synapse_and_shows_the_rooms() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let sample = fs::read_to_string(root().join("config/examples/sample.toml")).unwrap();
    let export = sample_export();
    let config = sample
        .replace("http://127.0.0.1:8008", &format!("http://127.0.0.1:{port}"))
        .replace(
            "../../tests/fixtures/sample-export/export.jsonl",
            export.to_str().unwrap(),
        );
    let path = dir.path().join("demo.toml");
    fs::write(&path, config).unwrap();
    // Make sure the shared venv exists (installed once, under the script's lock).
    synapse();
    let demo = || {
        kbbridge_with(&path, &dir.path().join("demo.db"))
            .args(["-q", "demo"])
            // This test's Synapse stops when the test process ends.
            .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
            .output()
            .unwrap()
    };
    let first = demo();
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    for line in [
        "space \"acme\" #kb_acme:localhost",
        "space \"acme.ops\" #kb_acme.ops:localhost",
        "room  \"general\" #kb_acme-general:localhost",
        "room  \"alerts\" #kb_acme.ops-alerts:localhost",
        "room  \"alice, bob\" #kb_-alice=2cbob:localhost",
        "user \"demo\", password \"demo\"",
    ] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}");
    }
    assert!(stdout.contains("30 message(s) copied"), "{stdout}");
    let demo_synapse = Synapse {
        url: url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        as_token: "sample-as-token-for-a-local-synapse".to_owned(),
        ..synapse().clone()
    };
    let read = demo_synapse.read_back();
    let general = read.alias("#kb_acme-general:localhost").await.unwrap();
    let before = read.messages(&general).await.unwrap().len();
    let second = demo();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(
        read.messages(&general).await.unwrap().len(),
        before,
        "the second demo sent again"
    );
    assert_eq!(
        text(&second.stdout)
            .lines()
            .filter(|l| l.contains("message(s) copied"))
            .count(),
        4
    );
    let synapse_dir = root().join(format!("target/synapse/demo-{port}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let registration = synapse_dir.join("kbbridge-registration.yaml");
        let mode = fs::metadata(&registration).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the registration holds both tokens");
    }
    let stop = Command::new("bash")
        .arg(adapter_matrix::testing::script())
        .arg("stop")
        .env("SYNAPSE_DIR", &synapse_dir)
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let _ = fs::remove_dir_all(synapse_dir);
}
