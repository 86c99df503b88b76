//! One `kbbridge run` (the release binary) in a world's folder: started on a mapping file with
//! the world's environment, its log, the wait for "relaying", and its stop (with the api-listen
//! stand-ins its tees left behind).

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::tee::{LINES_VAR, STANDIN_VAR, pids_path};

/// kbbridge's `RUST_LOG` (default `info`): `debug` levels show where an event's time goes.
pub const LOG_VAR: &str = "KBBRIDGE_BENCH_LOG";

/// How long kbbridge may take to set up (make its rooms or webhooks, start its feeds).
const SET_UP: Duration = Duration::from_secs(600);

/// A `kbbridge run` whose log, stamps and store live in `dir`.
pub struct RelayProcess {
    dir: PathBuf,
    child: Option<Child>,
}

impl RelayProcess {
    /// Not started yet; `dir` is the world's folder.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            child: None,
        }
    }

    /// Where the tee writes its stamps.
    pub fn lines_path(&self) -> PathBuf {
        self.dir.join("api-listen.lines")
    }

    /// kbbridge's log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("kbbridge.log")
    }

    /// Starts `kbbridge --config <config> run` on a SQLite store in the folder, with `env` (the
    /// target's settings) on an environment cleared of every other `KBBRIDGE*` variable,
    /// logging at [`LOG_VAR`]; `standin` is the Keybase stand-in the tee runs.
    pub fn start(&mut self, config: &Path, standin: &Path, env: &[(&str, OsString)]) {
        let db = format!("sqlite://{}", self.dir.join("kbbridge.db").display());
        let log = fs::File::create(self.log_path()).expect("kbbridge's log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbbridge"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KBBRIDGE") {
                cmd.env_remove(key);
            }
        }
        let filter = std::env::var(LOG_VAR).unwrap_or_else(|_| "info".to_owned());
        cmd.arg("--config")
            .arg(config)
            .arg("run")
            .env("KBBRIDGE__DATABASE__URL", db)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(STANDIN_VAR, standin)
            .env(LINES_VAR, self.lines_path())
            .env("RUST_LOG", filter)
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start kbbridge run"));
    }

    /// kbbridge's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails with the log when kbbridge has exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("kbbridge exited ({status}):\n{}", self.log());
            }
        }
    }

    /// kbbridge's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until kbbridge says it relays (every target made, the Keybase feed started).
    pub async fn relaying(&mut self) {
        let started = Instant::now();
        while !self.log().contains("relaying; stop with") {
            self.assert_running();
            assert!(
                started.elapsed() < SET_UP,
                "kbbridge did not start relaying:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops kbbridge with SIGTERM (SIGKILL after 30 s), then the api-listen stand-ins its
    /// tees left behind.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let pids = fs::read_to_string(pids_path(&self.lines_path())).unwrap_or_default();
        for pid in pids.lines() {
            // Still the stand-in the tee started (not a process that took its ID since).
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("api-listen") {
                let _ = Command::new("kill").args(["-TERM", pid]).status();
            }
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
