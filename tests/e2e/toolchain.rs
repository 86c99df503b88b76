//! The workspace's `rust-version` is the one the locked dependencies really need: at least
//! every package's own `rust-version` in `cargo metadata --locked`, and what the README says.

use serde_json::Value;

use crate::support::root;

/// `1.89` or `1.89.0` as (major, minor, patch).
fn parse(version: &str) -> (u64, u64, u64) {
    let mut parts = version
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or_else(|_| panic!("{version:?}")));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The workspace's rust-version (every member must have the same), and the packages of the
/// locked graph that need a newer Rust than it: `name version (rust-version)`.
fn newer_than_workspace(metadata: &Value) -> (String, Vec<String>) {
    let packages = metadata["packages"].as_array().expect("packages");
    let members = metadata["workspace_members"].as_array().expect("members");
    let is_member = |p: &Value| members.contains(&p["id"]);
    let ours: Vec<&str> = packages
        .iter()
        .filter(|p| is_member(p))
        .map(|p| {
            p["rust_version"]
                .as_str()
                .expect("every member has a rust-version")
        })
        .collect();
    assert!(!ours.is_empty());
    assert!(
        ours.iter().all(|v| *v == ours[0]),
        "members differ: {ours:?}"
    );
    let workspace = parse(ours[0]);
    let newer = packages
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            let (name, version) = (p["name"].as_str()?, p["version"].as_str()?);
            (parse(needs) > workspace).then(|| format!("{name} {version} ({needs})"))
        })
        .collect();
    (ours[0].to_owned(), newer)
}

#[test]
fn rust_version_covers_every_locked_package_and_the_readme_says_it() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --locked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (ours, newer) = newer_than_workspace(&metadata);
    assert!(
        newer.is_empty(),
        "rust-version {ours} in Cargo.toml is older than what these locked packages need: \
         {newer:?}; raise it (and the README's toolchain line)"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust toolchain ({ours}+)")),
        "the README names another Rust version than rust-version {ours}"
    );
}

#[test]
fn a_locked_package_newer_than_the_workspace_is_caught() {
    let metadata = serde_json::json!({
        "workspace_members": ["ws"],
        "packages": [
            {"id": "ws", "name": "kbbridge", "version": "0.1.0", "rust_version": "1.85"},
            {"id": "a", "name": "ruma", "version": "0.17.2", "rust_version": "1.89"},
            {"id": "b", "name": "old", "version": "1.0.0", "rust_version": "1.85.1"},
            {"id": "c", "name": "same", "version": "1.0.0", "rust_version": "1.85.0"},
            {"id": "d", "name": "none", "version": "1.0.0", "rust_version": null},
        ],
    });
    let (ours, newer) = newer_than_workspace(&metadata);
    assert_eq!(ours, "1.85");
    assert_eq!(newer, ["ruma 0.17.2 (1.89)", "old 1.0.0 (1.85.1)"]);
}
