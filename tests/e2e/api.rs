//! `kbbridge serve`: the REST API over the export and the mapping store, checked by hand on the
//! bundled sample (after a backfill into the Discord stand-in, so copies exist), then by
//! schemathesis (a property-based API tester from PyPI, installed into `target/schemathesis` on
//! first use) against the OpenAPI file the server itself serves.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use discord_standin::{StandIn, StandInOptions};
use serde_json::Value;

use crate::support::{kbbridge_on, root, text};

const TOKEN: &str = "api-t0ken-for-tests";

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` with the token: (status, JSON body).
fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// schemathesis in `target/schemathesis`, installed on first use; `None` (with a SKIPPED line)
/// where it cannot be installed.
fn schemathesis() -> Option<PathBuf> {
    let dir = root().join("target/schemathesis");
    let bin = dir.join("bin/schemathesis");
    if bin.exists() {
        return Some(bin);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(dir.join("bin/pip"))
            // Hypothesis 6.136 changed an internal schemathesis 3 relies on.
            .args(["install", "-q", "schemathesis>=3.39,<4", "hypothesis<6.136"])
            .status()
            .is_ok_and(|s| s.success());
    if made && bin.exists() {
        Some(bin)
    } else {
        eprintln!(
            "SKIPPED: schemathesis could not be installed from PyPI into {}",
            dir.display()
        );
        None
    }
}

struct Served {
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Backfills the sample's `acme#general` into the stand-in, then serves; waits for /health.
async fn serve(dir: &Path, standin: &StandIn, addr: SocketAddr) -> Served {
    std::fs::write(dir.join("ca.pem"), standin.ca_pem()).unwrap();
    std::fs::write(
        dir.join("kbbridge.toml"),
        format!(
            "[database]\nurl = \"sqlite://{db}\"\n\n[keybase]\nexport = {export:?}\n\n\
             [discord]\nguild_id = \"{guild}\"\n\n\
             [[link]]\nname = \"general\"\nkeybase = \"acme#general\"\ndiscord = \"auto\"\n",
            db = dir.join("kb.db").display(),
            export = root()
                .join("tests/fixtures/sample-export")
                .display()
                .to_string(),
            guild = standin.guild_id(),
        ),
    )
    .unwrap();
    let command = |args: &[&str]| {
        let mut cmd = kbbridge_on(standin, &dir.join("ca.pem"));
        cmd.arg("--config")
            .arg(dir.join("kbbridge.toml"))
            .args(args)
            .env("KBBRIDGE__DISCORD__TOKEN", standin.token())
            .env("KBBRIDGE__ADMIN__LISTEN", addr.to_string())
            .env("KBBRIDGE__ADMIN__TOKEN", TOKEN);
        cmd
    };
    let out = command(&["backfill"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let child = command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served { child };
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rest_api_answers_as_its_openapi_file_says() {
    let standin = StandIn::start(StandInOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let _served = serve(dir.path(), &standin, addr).await;

    let (status, chats) = get(addr, "/api/v1/chats");
    assert_eq!(status, 200, "{chats}");
    let general = chats["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chat"] == "acme#general")
        .unwrap();
    assert_eq!(general["messages"], 30);

    // Paged: two pages of 10 follow each other.
    let (_, first) = get(addr, "/api/v1/messages?chat=acme%23general&limit=10");
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = get(
        addr,
        &format!("/api/v1/messages?chat=acme%23general&limit=10&after={next}"),
    );
    let ids = |page: &Value| -> Vec<u64> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!((a.len(), b.len()), (10, 10));
    assert!(a.last() < b.first(), "{a:?} then {b:?}");

    // Filtered by sender: only theirs.
    let sender = first["messages"][0]["sender"].as_str().unwrap().to_owned();
    let (_, theirs) = get(
        addr,
        &format!("/api/v1/messages?chat=acme%23general&sender={sender}&limit=1000"),
    );
    let theirs = theirs["messages"].as_array().unwrap();
    assert!(!theirs.is_empty() && theirs.iter().all(|m| m["sender"] == sender.as_str()));

    // Statistics per day add up to every message.
    let (_, days) = get(addr, "/api/v1/stats?by=day");
    let total: u64 = days["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messages"].as_u64().unwrap())
        .sum();
    let (_, by_chat) = get(addr, "/api/v1/stats?by=chat");
    let per_chat: u64 = by_chat["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(total, per_chat);
    assert_eq!(total, 54, "the sample's messages");

    // Where a message's copy is.
    let id = a[0];
    let (status, copies) = get(addr, &format!("/api/v1/copies?chat=acme%23general&id={id}"));
    assert_eq!(status, 200, "{copies}");
    let copy = &copies["copies"][0];
    assert_eq!(copy["state"], "sent", "{copies}");
    assert!(
        copy["chat"].as_str().unwrap().starts_with("discord:"),
        "{copies}"
    );

    // Bad requests are answered as the file says.
    assert_eq!(get(addr, "/api/v1/messages?chat=nope").0, 404);
    assert_eq!(
        get(addr, "/api/v1/messages?chat=acme%23general&limit=0").0,
        400
    );
    assert_eq!(get(addr, "/api/v1/stats?by=week").0, 400);

    // The property-based tester, against the server's own OpenAPI file.
    let Some(st) = schemathesis() else { return };
    // Hypothesis keeps its example database in the working directory: a folder of its own.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(st)
        .current_dir(scratch.path())
        .args(["run", &format!("http://{addr}/api/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all", "--hypothesis-max-examples", "40"])
        .args(["--hypothesis-derandomize", "--request-timeout", "10000"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
