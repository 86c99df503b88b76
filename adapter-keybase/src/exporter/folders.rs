//! The files side of an export (keybase.md §7.1–7.2): `kbfs.json`, the KBFS folder listing
//! (`keybase fs ls -w`, walked folder by folder from `/keybase/private`, `/keybase/public` and
//! `/keybase/team`), and `git.json`, the repositories of `keybase git list`.

use serde::Serialize;
use tracing::warn;

use super::{error::ExportError, store::Store};
use crate::cli::{ClientError, KeybaseCli};

/// Where the KBFS walk starts.
const ROOTS: [&str; 3] = ["/keybase/private", "/keybase/public", "/keybase/team"];

/// How deep below a root the walk goes.
const MAX_DEPTH: usize = 8;

/// The most entries listed (the listing says when it stopped there).
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, PartialEq, Eq, Serialize)]
struct Entry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    modified: String,
}

#[derive(Serialize)]
struct FolderError {
    path: String,
    error: String,
}

#[derive(Serialize)]
struct KbfsFile {
    entries: Vec<Entry>,
    errors: Vec<FolderError>,
    truncated: bool,
}

/// Writes `kbfs.json`. Folders that cannot be listed are recorded in `errors`.
pub(super) async fn kbfs(cli: &KeybaseCli, store: &mut Store) -> Result<(), ExportError> {
    let mut file = KbfsFile {
        entries: Vec::new(),
        errors: Vec::new(),
        truncated: false,
    };
    let mut todo: Vec<(String, usize)> = ROOTS.iter().rev().map(|r| ((*r).to_owned(), 0)).collect();
    while let Some((dir, depth)) = todo.pop() {
        let text = match cli.run(&["fs", "ls", "-w", "-a", &dir]).await {
            Ok(text) => text,
            Err(e @ ClientError::Command { .. }) => {
                warn!(path = %dir, error = %e, "cannot list a KBFS folder");
                file.errors.push(FolderError {
                    path: dir,
                    error: e.to_string(),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut subdirs = Vec::new();
        for entry in parse_listing(&dir, &text) {
            if file.entries.len() >= MAX_ENTRIES {
                file.truncated = true;
                break;
            }
            if entry.kind == "DIR" && depth < MAX_DEPTH {
                subdirs.push((entry.path.clone(), depth + 1));
            }
            file.entries.push(entry);
        }
        todo.extend(subdirs.into_iter().rev());
    }
    store.write_section("kbfs", &file)
}

/// `fs ls -w` lines: `<time>\t<DIR>\t\t<name>` or `<time>\t<TYPE>\t<size>\t<name>`.
fn parse_listing(dir: &str, text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.splitn(4, '\t');
            let (time, kind, size, name) = (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
            if name.is_empty() || name == "." || name == ".." {
                return None;
            }
            let kind = kind.trim_matches(['<', '>']).to_owned();
            Some(Entry {
                path: format!("{}/{name}", dir.trim_end_matches('/')),
                size: size.parse().ok(),
                kind,
                modified: time.to_owned(),
            })
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Serialize)]
struct Repo {
    scope: String,
    name: String,
    url: String,
}

#[derive(Serialize)]
struct GitFile {
    repos: Vec<Repo>,
}

/// Writes `git.json`.
pub(super) async fn git(cli: &KeybaseCli, store: &mut Store) -> Result<(), ExportError> {
    let text = cli.run(&["git", "list"]).await?;
    store.write_section(
        "git",
        &GitFile {
            repos: parse_git_list(&text),
        },
    )
}

/// `git list` text: `personal repos:` / `team repos:` headers, then `  <name>  <url>` lines.
fn parse_git_list(text: &str) -> Vec<Repo> {
    let mut scope = String::new();
    let mut repos = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_suffix(" repos:") {
            scope = header.trim().to_owned();
            continue;
        }
        let mut words = line.split_whitespace();
        if let (Some(name), Some(url)) = (words.next(), words.next()) {
            if url.starts_with("keybase://") {
                repos.push(Repo {
                    scope: scope.clone(),
                    name: name.to_owned(),
                    url: url.to_owned(),
                });
            }
        }
    }
    repos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listings_and_repos() {
        let ls =
            "2024-01-02 03:04:05 UTC\t<DIR>\t\tdocs\n2024-01-02 03:04:05 UTC\tFILE\t12\ta b.txt\n";
        let e = parse_listing("/keybase/team/acme/", ls);
        assert_eq!(e[0].path, "/keybase/team/acme/docs");
        assert_eq!((e[0].kind.as_str(), e[0].size), ("DIR", None));
        assert_eq!(
            (e[1].path.as_str(), e[1].size),
            ("/keybase/team/acme/a b.txt", Some(12))
        );
        let git = "personal repos:\n  dotfiles  keybase://private/alice/dotfiles\nteam repos:\n  acme/website  keybase://team/acme/website\n";
        let r = parse_git_list(git);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[1].scope.as_str(), r[1].name.as_str()),
            ("team", "acme/website")
        );
    }
}
