//! The benchmark as kbbridge's `[keybase] binary`: it runs the stand-in in its place and, for
//! `chat api-listen`, stamps each line as it hands it on, so the stand-in's delivery (post →
//! line) and kbbridge's own part (line → Matrix) are measured on the very lines kbbridge reads.
//!
//! Every other command is the stand-in itself (`exec`). The tee reads a line, stamps it and
//! writes it on at once: it adds one pipe hop (tens of microseconds) to kbbridge's input.

use std::{
    collections::HashMap,
    ffi::OsString,
    fs,
    fs::OpenOptions,
    io::{BufRead, BufReader, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

use super::stamp::{now_us, tag_in};

/// The stand-in's path: set on kbbridge's environment, it makes this process the wrapper.
pub const STANDIN_VAR: &str = "KBBRIDGE_BENCH_STANDIN";
/// The file the tee appends `<µs> <tag>` to, one line per tagged api-listen line.
pub const LINES_VAR: &str = "KBBRIDGE_BENCH_LINES";

/// The file next to the stamps where the tee notes its stand-in's process ID: when kbbridge
/// kills the tee, the stand-in lives on until its next line, so the benchmark stops it.
pub fn pids_path(lines: &Path) -> PathBuf {
    let mut name = lines.as_os_str().to_owned();
    name.push(".pids");
    PathBuf::from(name)
}

/// Runs as the wrapper when started as one (its exit code); `None` otherwise.
pub fn as_keybase() -> Option<ExitCode> {
    let standin = std::env::var_os(STANDIN_VAR)?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let lines = std::env::var_os(LINES_VAR);
    let code = match lines {
        Some(lines) if args.iter().any(|a| a == "api-listen") => {
            tee(Path::new(&standin), &args, Path::new(&lines))
        }
        _ => {
            let e = Command::new(&standin).args(&args).exec();
            eprintln!(
                "relay bench: cannot run {}: {e}",
                Path::new(&standin).display()
            );
            127
        }
    };
    Some(ExitCode::from(code))
}

/// Runs api-listen, handing its lines on and stamping the tagged ones into `lines`.
fn tee(standin: &Path, args: &[OsString], lines: &Path) -> u8 {
    let mut child = match Command::new(standin)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("relay bench: cannot run {}: {e}", standin.display());
            return 127;
        }
    };
    let open = |path: &Path| OpenOptions::new().create(true).append(true).open(path);
    if let Ok(mut pids) = open(&pids_path(lines)) {
        let _ = writeln!(pids, "{}", child.id());
    }
    let mut log = match open(lines) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("relay bench: cannot open {}: {e}", lines.display());
            let _ = child.kill();
            return 127;
        }
    };
    let Some(from) = child.stdout.take() else {
        return 127;
    };
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(from).lines() {
        let Ok(line) = line else { break };
        let at = now_us();
        // kbbridge gone: stop the stand-in too.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
        if let Some(tag) = tag_in(&line) {
            let _ = writeln!(log, "{at} {tag}");
        }
    }
    let _ = child.kill();
    child
        .wait()
        .ok()
        .and_then(|s| s.code())
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1)
}

/// The tee's stamps: each tag's first api-listen line (µs).
pub fn stamped_lines(path: &Path) -> HashMap<String, u64> {
    let mut lines = HashMap::new();
    for line in fs::read_to_string(path).unwrap_or_default().lines() {
        if let Some((at, tag)) = line.split_once(' ') {
            if let Ok(at) = at.parse::<u64>() {
                lines.entry(tag.to_owned()).or_insert(at);
            }
        }
    }
    lines
}
