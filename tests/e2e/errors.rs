//! Each cause is printed once: representative errors of every crate, most of them made by the
//! real failure, formatted as anyhow's `{:#}` chain and as [`Report`] (what the binary prints and
//! logs). A message that embedded its cause *and* returned it as its source printed it twice
//! (`… (os error 2): … (os error 2)`).

use std::{io, path::PathBuf};

use adapter_discord::DiscordError;
use adapter_keybase::{
    KeybaseError, KeybaseExport, cli::ClientError, exporter::ExportError, tabular::TabularError,
};
use adapter_matrix::MatrixError;
use bridge_core::{
    AdapterError, ChatRef, MappingStore, Platform, Report, StoreError, backfill::BackfillError,
};

/// Every error of `e`'s chain appears exactly once in `shown`.
fn each_cause_once(what: &str, e: &(dyn std::error::Error + 'static), shown: &str) {
    let mut level: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = level {
        let text = err.to_string();
        if !text.is_empty() {
            assert_eq!(
                shown.matches(&text).count(),
                1,
                "{what}: cause {depth} ({text:?}) is not printed exactly once in {shown:?}"
            );
        }
        depth += 1;
        level = err.source();
    }
    assert!(depth >= 2, "{what}: has a cause at all");
}

fn check(what: &str, e: impl std::error::Error + Send + Sync + 'static) {
    let report = Report::new(&e).to_string();
    each_cause_once(what, &e, &report);
    let chained = format!("{:#}", anyhow::Error::new(e));
    assert_eq!(chained, report, "{what}: `{{:#}}` and Report agree");
}

fn enoent() -> io::Error {
    io::Error::from_raw_os_error(2)
}

async fn store_error() -> StoreError {
    // A database under a file cannot be created: the real sqlx error.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let url = format!("sqlite://{}/sub/kb.db", file.display());
    match MappingStore::open(&url).await {
        Err(e) => e,
        Ok(_) => panic!("a database under a file opened"),
    }
}

#[tokio::test]
async fn every_crate_prints_each_cause_once() {
    let config = bridge_config::load(&PathBuf::from("/nonexistent/kbbridge.toml")).unwrap_err();
    check("config: unreadable file", config);

    let export = KeybaseExport::open("/nonexistent/export.jsonl").unwrap_err();
    assert!(matches!(export, KeybaseError::Open { .. }), "{export}");
    let chat = ChatRef::new(Platform::Keybase, "acme#general");
    check(
        "backfill: source export missing",
        BackfillError::Source {
            chat: chat.clone(),
            error: AdapterError::from(export),
        },
    );

    let spawn = std::process::Command::new("/nonexistent/keybase")
        .spawn()
        .unwrap_err();
    let client = ClientError::Spawn {
        binary: "/nonexistent/keybase".into(),
        source: spawn,
    };
    check("export: keybase missing", ExportError::Client(client));
    check(
        "export: cannot write",
        ExportError::Io {
            path: "/nonexistent/out".into(),
            source: enoent(),
        },
    );
    check("convert: cannot write", TabularError::Write(enoent()));

    // sqlx's own errors embed their cause in their message and return it as their source too;
    // `Report` (what the binary prints) shows it once.
    let store = store_error().await;
    let shown = Report::new(&store).to_string();
    each_cause_once("store: cannot open (Report)", &store, &shown);
    check(
        "matrix: attachment unreadable",
        MatrixError::Attachment {
            what: "a.png".into(),
            source: enoent(),
        },
    );

    let lost = DiscordError::Connection {
        call: "execute webhook",
        source: Box::new(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )),
    };
    check(
        "backfill: Discord connection lost",
        BackfillError::Sink {
            chat: ChatRef::new(Platform::Discord, "1234"),
            error: AdapterError::from(lost),
        },
    );
}
