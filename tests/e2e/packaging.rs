//! The files of `config/packaging/`: the systemd unit passes `systemd-analyze verify`, the
//! compose file passes `docker compose config` and wires the registration to kbbridge, and
//! the image builds (only with `KBBRIDGE_TEST_DOCKER=1`: it is a release build).
//!
//! A tool this machine lacks (systemd-analyze, docker or its daemon, the base images) skips its
//! test with a `SKIPPED:` line on stderr.

use std::{
    collections::BTreeMap,
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::support::{kbbridge, root, text};

fn packaging() -> PathBuf {
    root().join("config/packaging")
}

/// `program args…`'s output, or `None` when the program is not installed.
fn try_run(program: &str, args: &[&str]) -> Option<Output> {
    match Command::new(program).args(args).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

/// `systemd-analyze verify` on a copy of `unit` (named kbbridge.service, as verify wants a unit
/// name) whose ExecStart names the kbbridge under test, which verify requires to exist.
fn verify_unit(unit: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kbbridge.service");
    fs::write(&path, unit).unwrap();
    Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap()
}

/// The unit's text with ExecStart pointing at the kbbridge under test.
fn unit_under_test() -> String {
    let unit = fs::read_to_string(packaging().join("kbbridge.service")).unwrap();
    let installed = "ExecStart=/usr/local/bin/kbbridge ";
    assert!(unit.contains(installed), "ExecStart moved: {unit}");
    unit.replace(
        installed,
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_kbbridge")),
    )
}

/// verify's complaints about the unit (it exits 0 on unknown keys and bad values, only saying
/// so on stderr; lines about other units are not the unit's).
fn complaints(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.contains("kbbridge"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    if try_run("systemd-analyze", &["--version"]).is_none() {
        eprintln!("SKIPPED: systemd-analyze is not installed; the unit was not verified");
        return;
    }
    let unit = unit_under_test();
    let out = verify_unit(&unit);
    assert!(
        out.status.success() && complaints(&out).is_empty(),
        "systemd-analyze verify: {}\n{}",
        out.status,
        text(&out.stderr)
    );

    // The same check sees a key systemd does not know, and a binary that is not there.
    let out = verify_unit(&unit.replace("ProtectSystem=strict", "ProtectSystem=stricter"));
    assert!(!complaints(&out).is_empty(), "a bad value went unnoticed");
    let out = verify_unit(&unit.replace(env!("CARGO_BIN_EXE_kbbridge"), "/nonexistent/kbbridge"));
    assert!(
        !out.status.success() || !complaints(&out).is_empty(),
        "a missing ExecStart binary went unnoticed"
    );

    // What the unit is there for (issue 12): every one of these, as systemd reads them.
    let settings: Vec<&str> = unit.lines().map(str::trim).collect();
    for wanted in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60s",
        "SuccessExitStatus=143",
        "Restart=on-failure",
        "User=kbbridge",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=kbbridge",
        "ConfigurationDirectory=kbbridge",
        "EnvironmentFile=/etc/kbbridge/kbbridge.env",
        "CapabilityBoundingSet=",
    ] {
        assert!(settings.contains(&wanted), "the unit lacks {wanted}");
    }
}

/// The compose command here (`docker compose`, else `docker-compose`), or `None`.
fn compose() -> Option<Vec<&'static str>> {
    let works = |program: &'static str, args: &[&'static str]| {
        try_run(program, args).is_some_and(|o| o.status.success())
    };
    if works("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else if works("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else {
        None
    }
}

/// `compose --env-file ENV -f compose.yaml ARGS`, with none of the test's own environment
/// standing in for the env file.
fn compose_config(compose: &[&str], env_file: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(compose[0]);
    cmd.args(&compose[1..])
        .arg("--env-file")
        .arg(env_file)
        .arg("-f")
        .arg(packaging().join("compose.yaml"))
        .arg("config")
        .args(args);
    for var in env_example().keys() {
        cmd.env_remove(var);
    }
    cmd.output().unwrap()
}

#[test]
fn docker_compose_config_accepts_the_compose_file() {
    let Some(compose) = compose() else {
        eprintln!(
            "SKIPPED: neither `docker compose` nor `docker-compose` is installed; the compose \
             file was not validated"
        );
        return;
    };
    eprintln!("validating with `{}`", compose.join(" "));
    let out = compose_config(&compose, &packaging().join("env.example"), &["--services"]);
    assert!(
        out.status.success(),
        "{} config: {}",
        compose.join(" "),
        text(&out.stderr)
    );
    let mut services: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    services.sort();
    assert_eq!(
        services,
        [
            "kbbridge",
            "postgres",
            "registration",
            "synapse",
            "synapse-config"
        ]
    );

    // Without the operator's env file, the secrets are missing and compose says which.
    let empty = tempfile::NamedTempFile::new().unwrap();
    let out = compose_config(&compose, empty.path(), &[]);
    assert!(!out.status.success(), "accepted without secrets");
    assert!(
        text(&out.stderr).contains("config/packaging/.env"),
        "{}",
        text(&out.stderr)
    );
}

/// `KEY=value` lines of env.example (the values the compose file is validated with).
fn env_example() -> BTreeMap<String, String> {
    let example = fs::read_to_string(packaging().join("env.example")).unwrap();
    example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The `KBBRIDGE__…` settings compose.yaml gives kbbridge and the registration step, with
/// `${VAR…}` taken from `env`.
fn compose_kbbridge_env(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let compose = fs::read_to_string(packaging().join("compose.yaml")).unwrap();
    let interpolate = |value: &str| {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${") + start;
            let name = rest[start + 2..end]
                .split([':', '-'])
                .next()
                .unwrap_or_default();
            out.push_str(
                env.get(name)
                    .unwrap_or_else(|| panic!("{name} is not in env.example")),
            );
            rest = &rest[end + 1..];
        }
        out + rest
    };
    compose
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("KBBRIDGE__"))
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), interpolate(v.trim_matches('"'))))
        .collect()
}

/// The value of the registration's top-level `key`.
fn registration_value<'a>(registration: &'a str, key: &str) -> Option<&'a str> {
    registration
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .map(|v| v.trim_matches('"'))
}

/// What the registration step of compose.yaml does, through the kbbridge under test: the
/// mapping file of the compose setup loads with compose's settings, and the registration
/// Synapse gets holds the tokens kbbridge gets, with its url on the kbbridge service.
#[test]
fn the_compose_registration_step_gives_synapse_kbbridges_tokens() {
    let env = env_example();
    let settings = compose_kbbridge_env(&env);
    let names: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    for wanted in [
        "KBBRIDGE__MATRIX__AS_TOKEN",
        "KBBRIDGE__MATRIX__HS_TOKEN",
        "KBBRIDGE__MATRIX__LISTEN",
        "KBBRIDGE__MATRIX__HOMESERVER",
        "KBBRIDGE__DATABASE__URL",
    ] {
        assert!(
            names.contains(&wanted),
            "compose.yaml does not set {wanted}"
        );
    }
    let out = kbbridge()
        .arg("--config")
        .arg(packaging().join("kbbridge.toml"))
        .arg("matrix-registration")
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("new random tokens"),
        "tokens were made up: {}",
        text(&out.stderr)
    );
    let printed = text(&out.stdout);
    assert_eq!(
        registration_value(&printed, "as_token"),
        Some(env["KBBRIDGE_AS_TOKEN"].as_str())
    );
    assert_eq!(
        registration_value(&printed, "hs_token"),
        Some(env["KBBRIDGE_HS_TOKEN"].as_str())
    );

    // The step's sed: one `url:` line, replaced by the address Synapse reaches kbbridge at,
    // on the port kbbridge listens on.
    let compose = fs::read_to_string(packaging().join("compose.yaml")).unwrap();
    let sed = r#"sed 's|^url: .*|url: "http://kbbridge:29333"|'"#;
    assert!(compose.contains(sed), "the registration step changed");
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("url: ")).count(),
        1
    );
    let listen = &settings
        .iter()
        .find(|(k, _)| k == "KBBRIDGE__MATRIX__LISTEN")
        .unwrap()
        .1;
    assert_eq!(listen, "0.0.0.0:29333");
    assert_eq!(
        registration_value(&printed, "url"),
        Some("http://0.0.0.0:29333")
    );
}

/// `image` is here or can be pulled.
fn base_image_available(image: &str) -> bool {
    let present =
        try_run("docker", &["image", "inspect", image]).is_some_and(|o| o.status.success());
    present || try_run("docker", &["pull", image]).is_some_and(|o| o.status.success())
}

/// The default of `ARG name=…` in the Dockerfile.
fn dockerfile_arg(dockerfile: &str, name: &str) -> String {
    dockerfile
        .lines()
        .find_map(|l| l.strip_prefix(&format!("ARG {name}=")))
        .unwrap_or_else(|| panic!("no ARG {name}"))
        .trim()
        .to_owned()
}

#[test]
fn the_image_builds_runs_as_a_user_and_has_no_toolchain() {
    if std::env::var_os("KBBRIDGE_TEST_DOCKER").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIPPED: the image build (a release build, minutes) runs with KBBRIDGE_TEST_DOCKER=1"
        );
        return;
    }
    match try_run("docker", &["info"]) {
        None => {
            eprintln!("SKIPPED: docker is not installed; the image was not built");
            return;
        }
        Some(out) if !out.status.success() => {
            eprintln!(
                "SKIPPED: no Docker daemon answers ({}); the image was not built",
                text(&out.stderr).trim()
            );
            return;
        }
        Some(_) => {}
    }
    let dockerfile = fs::read_to_string(packaging().join("Dockerfile")).unwrap();
    let (rust, debian) = (
        dockerfile_arg(&dockerfile, "RUST_VERSION"),
        dockerfile_arg(&dockerfile, "DEBIAN_RELEASE"),
    );
    for image in [
        format!("rust:{rust}-slim-{debian}"),
        format!("debian:{debian}-slim"),
    ] {
        if !base_image_available(&image) {
            eprintln!("SKIPPED: the base image {image} is not here and cannot be pulled");
            return;
        }
    }

    let tag = format!("kbbridge-test:{}", std::process::id());
    let out = Command::new("docker")
        .args([
            "build",
            "-f",
            "config/packaging/Dockerfile",
            "-t",
            &tag,
            ".",
        ])
        .current_dir(root())
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let run = |entrypoint: &str, args: &[&str]| {
        let out = Command::new("docker")
            .args(["run", "--rm", "--entrypoint", entrypoint, &tag])
            .args(args)
            .output()
            .unwrap();
        (out.status.success(), text(&out.stdout))
    };
    let (ok, version) = run("kbbridge", &["--version"]);
    assert!(ok && version.starts_with("kbbridge "), "{version}");
    let (ok, uid) = run("id", &["-u"]);
    assert!(ok, "id -u");
    assert_ne!(uid.trim(), "0", "the image runs as root");
    let (has_cargo, _) = run("sh", &["-c", "command -v cargo || command -v cc"]);
    assert!(!has_cargo, "a toolchain is in the final image");
    let size = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", &tag])
        .output()
        .unwrap();
    eprintln!(
        "built {tag}: {} MB",
        text(&size.stdout).trim().parse::<u64>().unwrap_or(0) / 1_000_000
    );
    let _ = Command::new("docker").args(["rmi", &tag]).output();
}
