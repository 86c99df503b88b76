//! `kbbridge matrix-registration` on a mapping file without tokens: it makes them, prints them
//! in the registration and says where kbbridge takes them; kbbridge and a real Synapse given
//! them then work together.

use std::{fs, path::Path, process::Command};

use adapter_matrix::testing::{Synapse, script, synapse};

use super::sample_export;
use crate::support::{kbbridge, root, text};

/// The sample mapping file without its two tokens, on `homeserver`, its export found.
fn config_without_tokens(dir: &Path, homeserver: &str) -> std::path::PathBuf {
    let sample = fs::read_to_string(root().join("config/examples/sample.toml")).unwrap();
    let toml: String = sample
        .lines()
        .filter(|l| !l.starts_with("as_token") && !l.starts_with("hs_token"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("http://127.0.0.1:8008", homeserver)
        .replace(
            "../../tests/fixtures/sample-export/export.jsonl",
            sample_export().to_str().unwrap(),
        )
        .replace(
            "../../target/kbbridge-sample.db",
            dir.join("kb.db").to_str().unwrap(),
        );
    assert!(!toml.contains("_token"), "{toml}");
    let path = dir.join("kbbridge.toml");
    fs::write(&path, toml).unwrap();
    path
}

/// The value of `key: "…"` in the registration.
fn token(yaml: &str, key: &str) -> String {
    let line = yaml
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in\n{yaml}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn missing_tokens_are_made_and_where_to_put_them_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_without_tokens(dir.path(), "http://127.0.0.1:8008");
    let run = |env: &[(&str, &str)]| {
        let out = kbbridge()
            .arg("--config")
            .arg(&config)
            .arg("matrix-registration")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let (yaml, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{yaml}\n{stderr}");
        (token(&yaml, "as_token"), token(&yaml, "hs_token"), stderr)
    };

    // Without a token anywhere: both are made, strong, different, new on each run.
    let (as_token, hs_token, stderr) = run(&[]);
    for t in [&as_token, &hs_token] {
        assert!(
            t.len() >= 64 && t.chars().all(|c| c.is_ascii_alphanumeric()),
            "{t}"
        );
        assert!(!stderr.contains(t.as_str()), "a token on stderr: {stderr}");
    }
    assert_ne!(as_token, hs_token);
    for var in ["KBBRIDGE__MATRIX__AS_TOKEN", "KBBRIDGE__MATRIX__HS_TOKEN"] {
        assert!(stderr.contains(var), "{stderr}");
    }
    assert!(
        stderr.contains("kbbridge.toml"),
        "names the mapping file: {stderr}"
    );
    let (again, _, _) = run(&[]);
    assert_ne!(again, as_token, "tokens are random");

    // One given: it is kept, the other is made, and only the other is mentioned.
    let (kept, made, stderr) = run(&[("KBBRIDGE__MATRIX__AS_TOKEN", "given-as-token")]);
    assert_eq!(kept, "given-as-token");
    assert_eq!(made.len(), 64);
    assert!(
        !stderr.contains("AS_TOKEN") && stderr.contains("HS_TOKEN"),
        "{stderr}"
    );

    // Both given where the message says: the same registration, nothing made, and the other
    // commands accept the file.
    let given = [
        ("KBBRIDGE__MATRIX__AS_TOKEN", as_token.as_str()),
        ("KBBRIDGE__MATRIX__HS_TOKEN", hs_token.as_str()),
    ];
    let (a, h, stderr) = run(&given);
    assert_eq!((a, h), (as_token.clone(), hs_token.clone()));
    assert!(stderr.trim().is_empty(), "{stderr}");
    let plan = kbbridge()
        .arg("--config")
        .arg(&config)
        .arg("plan")
        .envs(given)
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", text(&plan.stderr));
}

#[test]
fn other_problems_of_the_file_are_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_without_tokens(dir.path(), "http://127.0.0.1:8008");
    let toml = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        toml.replace("name = \"random\"", "name = \"general\""),
    )
    .unwrap();
    let out = kbbridge()
        .arg("--config")
        .arg(&config)
        .arg("matrix-registration")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("link[1].name"), "{stderr}");
    assert!(out.stdout.is_empty(), "no registration for a refused file");
}

/// `tests/support/synapse ARGS` for a Synapse of this test's own, in `dir`, on `port`.
fn own_synapse(dir: &Path, port: u16, registration: &Path, args: &[&str]) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("SYNAPSE_DIR", dir)
        .env("SYNAPSE_PORT", port.to_string())
        .env("SYNAPSE_REGISTRATION", registration)
        .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synapse {args:?}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The whole set-up as a new operator does it: registration made by kbbridge, given to
/// Synapse as is, tokens given to kbbridge as stderr says; the backfill then goes through
/// (and fails with tokens the homeserver does not know).
#[tokio::test(flavor = "multi_thread")]
async fn made_tokens_let_kbbridge_and_synapse_work_together() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = config_without_tokens(dir.path(), &format!("http://127.0.0.1:{port}"));
    let out = kbbridge()
        .arg("--config")
        .arg(&config)
        .arg("matrix-registration")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let registration = dir.path().join("registration.yaml");
    fs::write(&registration, &yaml).unwrap();
    let (as_token, hs_token) = (token(&yaml, "as_token"), token(&yaml, "hs_token"));

    // The shared venv first (installed once, under the script's lock).
    synapse();
    let synapse_dir = dir.path().join("synapse");
    own_synapse(&synapse_dir, port, &registration, &["ensure"]);
    let backfill = |as_token: &str| {
        kbbridge()
            .arg("--config")
            .arg(&config)
            .args(["-q", "backfill", "--link", "general"])
            .env("KBBRIDGE__MATRIX__AS_TOKEN", as_token)
            .env("KBBRIDGE__MATRIX__HS_TOKEN", &hs_token)
            .output()
            .unwrap()
    };
    let refused = backfill("a-token-synapse-does-not-know");
    let why = text(&refused.stderr);
    assert!(!refused.status.success(), "a wrong as_token must fail");
    assert!(why.contains("M_UNKNOWN_TOKEN"), "{why}");
    let done = backfill(&as_token);
    assert!(done.status.success(), "{}", text(&done.stderr));

    let ours = Synapse {
        url: url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        as_token: as_token.clone(),
        ..synapse().clone()
    };
    let read = ours.read_back();
    let general = read.alias("#kb_acme-general:localhost").await.unwrap();
    assert!(!read.messages(&general).await.unwrap().is_empty());
    own_synapse(&synapse_dir, port, &registration, &["stop"]);
}
