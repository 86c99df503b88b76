//! `keybase fs ls` and `keybase git list` (keybase.md §7.1–7.2): KBFS is the state folder's
//! `kbfs/` tree, git repositories are listed in `git.json`.

use std::{path::Path, process::ExitCode};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{state::Home, users::print_or_fail};

/// `fs ls [-w] [-a] [-1] [-l] [--nocolor] [--dirs-first] PATH`. With `-w` (windows style, the
/// parseable one): `<time>\t<DIR>\t\t<name>` for folders and `<time>\t<TYPE>\t<size>\t<name>`
/// for the rest, time as `2006-01-02 15:04:05 MST` (UTC here); otherwise one name per line.
pub fn ls(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("fs ls", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        let (mut windows, mut all, mut path) = (false, false, None);
        for arg in args {
            match arg.as_str() {
                "-w" | "--windows" => windows = true,
                "-a" | "--all" => all = true,
                "-1" | "--one" | "-l" | "--long" | "--nocolor" | "--dirs-first" => {}
                a if a.starts_with('-') => {
                    return Err(format!(
                        "Incorrect Usage: flag provided but not defined: {a}"
                    ));
                }
                a => path = Some(a.to_owned()),
            }
        }
        let path = path.ok_or("ls requires at least one KBFS path argument")?;
        let rel = path
            .strip_prefix("/keybase")
            .or_else(|| path.strip_prefix("keybase:/"))
            .ok_or("ls requires KBFS path arguments")?;
        let rel = rel.trim_start_matches('/');
        if rel.split('/').any(|p| p == "..") {
            return Err(format!("{path}: invalid path"));
        }
        let dir = home.kbfs().join(rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{path}: {e}"))?
            .filter_map(Result::ok)
            .filter(|e| all || !e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if !windows {
                    return name;
                }
                line(&e.path(), &name)
            })
            .collect();
        Ok(lines.join("\n"))
    };
    print_or_fail(run())
}

fn line(path: &Path, name: &str) -> String {
    let meta = std::fs::symlink_metadata(path).ok();
    let time = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .map(DateTime::<Utc>::from)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    match meta {
        Some(m) if m.is_dir() => format!("{time}\t<DIR>\t\t{name}"),
        Some(m) => {
            let kind = if m.file_type().is_symlink() {
                "SYM"
            } else if executable(&m) {
                "EXEC"
            } else {
                "FILE"
            };
            format!("{time}\t{kind}\t{}\t{name}", m.len())
        }
        None => format!("{time}\tFILE\t0\t{name}"),
    }
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// One repository of `git.json`: `{"folder": "team/acme", "name": "website"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Repo {
    folder: String,
    name: String,
}

/// `git list`: personal repositories, then team ones, as the real text output.
pub fn git_list(home: &Home, args: &[String]) -> ExitCode {
    home.log_request("git list", "", &serde_json::json!(args));
    let run = || -> Result<String, String> {
        if let Some(a) = args.first() {
            return Err(format!("Incorrect Usage: unexpected argument {a}"));
        }
        let path = home.path("git.json");
        let repos: Vec<Repo> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("stand-in state {}: {e}", path.display()))?,
            Err(_) => Vec::new(),
        };
        let mut out = Vec::new();
        let personal: Vec<&Repo> = repos
            .iter()
            .filter(|r| !r.folder.starts_with("team/"))
            .collect();
        let team: Vec<&Repo> = repos
            .iter()
            .filter(|r| r.folder.starts_with("team/"))
            .collect();
        if !personal.is_empty() {
            out.push("personal repos:".to_owned());
            for r in personal {
                out.push(format!("  {}  keybase://{}/{}", r.name, r.folder, r.name));
            }
        }
        if !team.is_empty() {
            out.push("team repos:".to_owned());
            for r in team {
                let t = r.folder.trim_start_matches("team/");
                out.push(format!(
                    "  {t}/{}  keybase://{}/{}",
                    r.name, r.folder, r.name
                ));
            }
        }
        Ok(out.join("\n"))
    };
    print_or_fail(run())
}
