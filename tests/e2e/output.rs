//! What the commands write to standard output: a reader that goes away early
//! (`kbbridge plan | head -1`) ends the program quietly.

use std::process::{Command, Stdio};

use crate::support::{kbbridge, root, text};

/// Runs `kbbridge ARGS` with stdout a pipe whose reading end is already closed, so the first
/// write fails with a broken pipe, whatever the timing; returns the exit code and stderr.
fn with_closed_stdout(db_dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    // The pipe: the stdin of a `true` that has already exited. Only the child held the reading
    // end, so once it is reaped nobody can read, and the write end is ours to hand on.
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("run true");
    let writer = reader.stdin.take().expect("piped stdin");
    reader.wait().expect("wait for true");
    let db = format!("sqlite://{}", db_dir.join("kbbridge.db").display());
    let out = kbbridge()
        .args(args)
        .env("KBBRIDGE__DATABASE__URL", db)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run kbbridge");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = root().join("config/examples/sample.toml");
    let cfg = cfg.to_str().unwrap();
    let export = root().join("tests/fixtures/sample-export");
    let export = export.to_str().unwrap();
    let commands: [&[&str]; 7] = [
        &["-c", cfg, "check"],
        &["-c", cfg, "plan"],
        &["-c", cfg, "status"],
        &["-c", cfg, "matrix-registration"],
        &["inspect", export],
        &["convert", export, "--to", "csv"],
        &["convert", export, "--to", "json"],
    ];
    for args in commands {
        let (code, stderr) = with_closed_stdout(dir.path(), args);
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
        assert_eq!(code, Some(0), "{args:?} exit code; stderr:\n{stderr}");
    }
}
