//! Finding the stand-in executable from the tests of other packages. Cargo tells a test where a
//! binary is (`CARGO_BIN_EXE_<name>`) only when the binary belongs to the test's own package;
//! every other test looks where cargo puts the binaries of a build (the folder above its own
//! `deps/`), and builds the stand-in there first when it is missing or older than its sources,
//! since `cargo test -p adapter-keybase` alone does not build another package's binary.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::SystemTime,
};

/// The binary's name, as in `Cargo.toml`.
const NAME: &str = "keybase-standin";

/// The stand-in executable of the build this test belongs to, built first when missing or
/// stale (once per test process).
///
/// # Panics
/// When the build fails, or leaves no executable where cargo should have put it.
pub fn executable() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(locate_or_build).clone()
}

fn locate_or_build() -> PathBuf {
    let out = output_dir();
    let path = out.join(format!("{NAME}{}", env::consts::EXE_SUFFIX));
    if is_stale(&path) {
        build(&out);
    }
    assert!(
        path.is_file(),
        "no {} after building the Keybase stand-in",
        path.display()
    );
    path
}

/// Where this build's binaries go: the folder of the running executable, or the one above for
/// a test or bench (in `deps/`) or an example (in `examples/`).
fn output_dir() -> PathBuf {
    let exe = env::current_exe().expect("the path of the running test executable");
    let dir = exe.parent().expect("the test executable's folder");
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("deps" | "examples") => dir.parent().unwrap_or(dir).to_owned(),
        _ => dir.to_owned(),
    }
}

/// Missing, or older than a file of the package's sources (its manifest and `src/`).
fn is_stale(path: &Path) -> bool {
    let Ok(built) = path.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = newest_in(&package.join("src")).max(modified(&package.join("Cargo.toml")));
    newest.is_some_and(|source| source > built)
}

/// The newest modification time of the files under `dir` (none when it cannot be read, as when
/// the tests run away from the sources).
fn newest_in(dir: &Path) -> Option<SystemTime> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                newest_in(&path)
            } else {
                modified(&path)
            }
        })
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// `cargo build --bin keybase-standin` into `out`: the same target folder and profile as the
/// running test (`debug` is the `dev` profile's folder).
fn build(out: &Path) {
    let profile = match out.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--bin", NAME, "--profile", profile])
        .arg("--manifest-path")
        .arg(manifest);
    if let Some(target_dir) = out.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the Keybase stand-in: {e}"));
    assert!(status.success(), "building the Keybase stand-in failed");
}
