//! `preflight` (what `kbbridge check` asks the homeserver) against the real Synapse of
//! `tests/support/synapse`: a ready appservice, a wrong or unknown as_token, a wrong
//! server_name, an unreachable homeserver, and the appservice ping proving the hs_token
//! (against a second Synapse whose registration has a url).

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
    process::Command,
    sync::OnceLock,
};

use adapter_matrix::{
    config::MatrixConfig,
    preflight::preflight,
    registration::{new_token, registration_yaml},
    testing::{synapse, unique_prefix},
};
use bridge_core::{
    Secret,
    preflight::{Report, Verdict},
};

/// A free loopback port for the ping listener.
fn free_port() -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

fn config() -> MatrixConfig {
    let mut c = synapse().config(&unique_prefix());
    c.listen = free_port();
    c
}

fn finding<'a>(report: &'a Report, check: &str) -> (&'a str, Verdict) {
    let f = report
        .get(check)
        .unwrap_or_else(|| panic!("no {check} finding: {report:#?}"));
    (f.text.as_str(), f.verdict)
}

#[tokio::test]
async fn a_registered_appservice_passes() {
    let report = preflight(&config()).await;
    assert_eq!(report.problems().count(), 0, "{report:#?}");
    assert_eq!(finding(&report, "homeserver").1, Verdict::Ok);
    let (text, verdict) = finding(&report, "as_token");
    assert_eq!(verdict, Verdict::Ok);
    assert!(
        text.contains(&format!(
            "@{}:{}",
            synapse().bot_localpart,
            synapse().server_name
        )),
        "{text}"
    );
    assert_eq!(finding(&report, "server_name").1, Verdict::Ok);
    assert_eq!(finding(&report, "namespace").1, Verdict::Ok);
    // The test homeserver's registration has no url: the ping cannot reach kbbridge, which is
    // said, and is not a problem for backfill.
    let (text, verdict) = finding(&report, "hs_token");
    assert_eq!(verdict, Verdict::Note, "{text}");
    assert!(text.contains("the registration has no url"), "{text}");
}

#[tokio::test]
async fn a_wrong_as_token_is_named() {
    let mut c = config();
    c.as_token = Secret::new("wrong-as-token");
    let report = preflight(&c).await;
    assert_eq!(finding(&report, "homeserver").1, Verdict::Ok, "{report:#?}");
    let (text, verdict) = finding(&report, "as_token");
    assert_eq!(verdict, Verdict::Problem);
    assert!(
        text.contains("appservice not registered or as_token wrong"),
        "{text}"
    );
    assert!(text.contains("M_UNKNOWN_TOKEN"), "{text}");
    assert!(
        !format!("{report:?}").contains("wrong-as-token"),
        "the token leaked"
    );
    assert!(
        report.get("hs_token").is_none(),
        "no ping without an accepted as_token"
    );
}

/// A registration made by kbbridge but never given to the homeserver.
#[tokio::test]
async fn an_unregistered_appservice_is_named() {
    let mut c = config();
    let (as_token, hs_token) = (new_token(), new_token());
    let yaml = registration_yaml(&c, &as_token, &hs_token).unwrap();
    assert!(yaml.contains(&as_token));
    c.as_token = Secret::new(as_token);
    c.hs_token = Secret::new(hs_token);
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "as_token");
    assert_eq!(verdict, Verdict::Problem);
    assert!(text.contains("appservice not registered"), "{text}");
    assert!(
        text.contains("kbbridge matrix-registration"),
        "says what to do: {text}"
    );
    assert_eq!(report.problems().count(), 1, "{report:#?}");
}

#[tokio::test]
async fn a_wrong_server_name_is_named_with_the_right_one() {
    let mut c = config();
    c.server_name = Some("example.org".to_owned());
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "server_name");
    assert_eq!(verdict, Verdict::Problem);
    assert!(text.contains("\"example.org\""), "{text}");
    assert!(
        text.contains(&format!(
            "set matrix.server_name = {:?}",
            synapse().server_name
        )),
        "{text}"
    );
    assert_eq!(report.problems().count(), 1, "{report:#?}");
}

#[tokio::test]
async fn a_wrong_bot_localpart_is_named() {
    let mut c = config();
    c.bot_localpart = "someone_else".to_owned();
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "bot_localpart");
    assert_eq!(verdict, Verdict::Problem);
    assert!(text.contains("someone_else"), "{text}");
}

/// Ghosts outside the registration's user namespace (`@kb_.*` on the test homeserver).
#[tokio::test]
async fn a_ghost_prefix_outside_the_namespace_is_named() {
    let mut c = config();
    c.ghost_prefix = "zz_".to_owned();
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "namespace");
    assert_eq!(verdict, Verdict::Problem, "{report:#?}");
    assert!(
        text.contains("does not give this appservice the users @zz_"),
        "{text}"
    );
    assert!(
        text.contains("with `kbbridge matrix-registration` and"),
        "{text}"
    );
    assert_eq!(report.problems().count(), 1, "{report:#?}");
}

#[tokio::test]
async fn an_unreachable_homeserver_is_named_with_the_cause_once() {
    let mut c = config();
    c.homeserver = Some("http://127.0.0.1:1".parse().unwrap());
    let started = std::time::Instant::now();
    let report = preflight(&c).await;
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    let (text, verdict) = finding(&report, "homeserver");
    assert_eq!(verdict, Verdict::Problem);
    assert!(
        text.contains("cannot reach the homeserver at http://127.0.0.1:1"),
        "{text}"
    );
    assert_eq!(
        text.to_lowercase().matches("connection refused").count(),
        1,
        "{text}"
    );
    assert_eq!(report.findings.len(), 1, "{report:#?}");
}

/// A second test Synapse (its own state directory) whose registration has a `url`, on a port
/// fixed for this checkout, so the homeserver can ping kbbridge back: (its settings, where
/// kbbridge must listen). Only this test binary uses it.
fn pingable() -> &'static (adapter_matrix::testing::Synapse, SocketAddr) {
    static PINGABLE: OnceLock<(adapter_matrix::testing::Synapse, SocketAddr)> = OnceLock::new();
    PINGABLE.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let sum: u32 = root.bytes().map(u32::from).sum();
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 29_400 + (sum % 500) as u16));
        let dir = PathBuf::from(root).join("target/synapse/ping");
        let out = Command::new("bash")
            .arg(adapter_matrix::testing::script())
            .arg("ensure")
            .env("SYNAPSE_DIR", &dir)
            .env("SYNAPSE_AS_URL", format!("http://{listen}"))
            .env("SYNAPSE_OWNER_PID", std::process::id().to_string())
            .output()
            .expect("run the synapse script");
        assert!(
            out.status.success(),
            "cannot start the pingable Synapse: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.join("env")).expect("its env file");
        let get = |k: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing from {}", dir.join("env").display()))
                .to_owned()
        };
        let s = adapter_matrix::testing::Synapse {
            url: get("SYNAPSE_URL").parse().expect("url"),
            server_name: get("SYNAPSE_SERVER_NAME"),
            as_token: get("SYNAPSE_AS_TOKEN"),
            bot_localpart: get("SYNAPSE_SENDER_LOCALPART"),
            venv: PathBuf::from(get("SYNAPSE_VENV")),
            dir,
        };
        (s, listen)
    })
}

/// The appservice ping: the homeserver calls kbbridge's listener with the hs_token, which
/// proves the registration's url and the token; a wrong one is a problem; a listener the
/// registration does not point at is a note.
#[tokio::test]
async fn the_ping_proves_the_hs_token() {
    let (s, listen) = pingable();
    let mut c = s.config(&unique_prefix());
    c.listen = *listen;
    c.hs_token = Secret::new(get_hs_token(s));
    let report = preflight(&c).await;
    assert_eq!(report.problems().count(), 0, "{report:#?}");
    let (text, verdict) = finding(&report, "hs_token");
    assert_eq!(verdict, Verdict::Ok, "{text}");
    assert!(text.contains("with the right hs_token"), "{text}");

    c.hs_token = Secret::new("not-the-hs-token");
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "hs_token");
    assert_eq!(verdict, Verdict::Problem, "{text}");
    assert!(
        text.contains("a different hs_token than matrix.hs_token"),
        "{text}"
    );
    assert!(!format!("{report:?}").contains("not-the-hs-token"));

    c.listen = free_port();
    let report = preflight(&c).await;
    let (text, verdict) = finding(&report, "hs_token");
    assert_eq!(verdict, Verdict::Note, "{text}");
    assert!(
        text.contains("could not reach kbbridge at the registration's url"),
        "{text}"
    );
    assert_eq!(report.problems().count(), 0, "{report:#?}");
}

/// The hs_token the script wrote into the pingable Synapse's registration.
fn get_hs_token(s: &adapter_matrix::testing::Synapse) -> String {
    let env = std::fs::read_to_string(s.dir.join("env")).expect("env file");
    env.lines()
        .find_map(|l| l.strip_prefix("SYNAPSE_HS_TOKEN="))
        .expect("SYNAPSE_HS_TOKEN")
        .to_owned()
}
