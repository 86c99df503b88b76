//! Opening a store: URLs, connection pools, SQLite PRAGMAs and migrations.

use std::{borrow::Cow, path::Path, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use sqlx::{
    AnyConnection, Connection, Executor,
    any::AnyPoolOptions,
    error::BoxDynError,
    migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator},
};
use tracing::debug;

use super::{Backend, MappingStore, StoreError, readers::Readers};

/// Run on every new SQLite connection, in this order.
/// - The busy timeout makes a connection wait up to 5 s for another's lock instead of failing.
/// - WAL lets readers read while the writer writes. With WAL, `synchronous = NORMAL` skips the
///   fsync per commit and still cannot corrupt the file; a power cut (not a crash of kbbridge)
///   may lose the last commits, so at worst a message sent just before it is sent again.
/// - 16 MiB of page cache per connection (default 2 MiB), and reads through a memory map of up
///   to 256 MiB instead of a `pread` per page. With a million rows in the benchmark, the cache
///   raised lookups/s by about a third and the map cut CPU time per lookup by about a fifth.
///   The price of the map: a disk read error kills the process (SIGBUS) instead of failing
///   one query; a backfill resumes after that as after any crash.
pub(super) const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -16384",
    "PRAGMA mmap_size = 268435456",
];

/// Pool connections to a SQLite file, which takes one writer at a time: waiting in the pool is
/// cheaper than SQLite's busy-wait (sleeps of up to 100 ms) between several writers.
const SQLITE_WRITERS: u32 = 1;
/// Read-only connections to a SQLite file (WAL lets them read while the writer writes): one
/// per CPU, within 4..=8. A lookup spends most of its time handing over to and back from the
/// connection's worker thread, not on a CPU, so even two CPUs keep four connections busy: on
/// the 2-core CI machine 4 readers gave 76,000–81,000 lookups/s to 4 tasks, 2 readers
/// 41,000–52,000 (`cargo bench -p bridge-core --bench store`).
fn sqlite_readers() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get().clamp(4, 8))
}

/// Connections to a PostgreSQL server, per kbbridge instance.
const POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// The schema, one migration per entry: (version, description, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "lease",
        include_str!("../../migrations/sqlite/0002_lease.sql"),
        include_str!("../../migrations/postgres/0002_lease.sql"),
    ),
    (
        3,
        "inbox",
        include_str!("../../migrations/sqlite/0003_inbox.sql"),
        include_str!("../../migrations/postgres/0003_inbox.sql"),
    ),
    (
        4,
        "relay",
        include_str!("../../migrations/sqlite/0004_relay.sql"),
        include_str!("../../migrations/postgres/0004_relay.sql"),
    ),
    (
        5,
        "edits and reaction ids",
        include_str!("../../migrations/sqlite/0005_edits_and_reaction_ids.sql"),
        include_str!("../../migrations/postgres/0005_edits_and_reaction_ids.sql"),
    ),
    (
        6,
        "handoff",
        include_str!("../../migrations/sqlite/0006_handoff.sql"),
        include_str!("../../migrations/postgres/0006_handoff.sql"),
    ),
];

impl MappingStore {
    /// Opens (and migrates) the store at `url`.
    ///
    /// - `sqlite://path`, `sqlite:path`: a SQLite file, created if missing (mode 0600 on Unix,
    ///   which SQLite gives its `-wal` and `-shm` files too); relative paths are taken from the
    ///   working directory. It runs in WAL mode with `synchronous = NORMAL` and a 5 s busy
    ///   timeout. Several processes may open a fresh file at once: the one that loses the race
    ///   to migrate it tries again and finds the schema made.
    /// - `sqlite::memory:`: a private in-memory database, gone when the store is closed (tests).
    /// - `postgres://…` (or `postgresql://…`): a PostgreSQL database; options such as
    ///   `?options=-c%20search_path%3Dkbbridge` pass through to the server. A server that does
    ///   not answer within [`CONNECT_TIMEOUT`] is an error naming the cause (refused, unknown
    ///   host, authentication…), not a pool timeout. Concurrent migrations are serialised by
    ///   sqlx's advisory lock.
    ///
    /// # Errors
    /// [`StoreError::Open`] if the URL is not one of the above or the database cannot be
    /// reached or created; [`StoreError::Migrate`] if the schema cannot be brought up to date
    /// (for example, the database was written by a newer kbbridge). Both carry the URL without
    /// its password.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // Idempotent: sqlx guards the installation with its own `Once`.
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let open_err = |cause| StoreError::Open {
            url: shown.clone(),
            cause,
        };

        let (backend, connect_url, options, readers) = match scheme(url) {
            Some("sqlite") => {
                let (connect_url, in_memory) = sqlite_url(url);
                if let Some(path) = sqlite_file_to_create(url) {
                    create_private_file(path).map_err(|e| open_err(sqlx::Error::Io(e)))?;
                }
                let readers = (!in_memory)
                    .then(|| Arc::new(Readers::new(connect_url.clone(), sqlite_readers())));
                (
                    Backend::Sqlite,
                    connect_url,
                    sqlite_pool(in_memory),
                    readers,
                )
            }
            Some("postgres" | "postgresql") => {
                // One connection first, under a short timeout: the pool would retry a refused
                // connection until its acquire timeout (30 s) and then report only "pool timed
                // out", hiding the cause.
                let conn = connect_once(url).await.map_err(open_err)?;
                if let Err(error) = conn.close().await {
                    debug!(error = %error, "closing the first connection failed");
                }
                (
                    Backend::Postgres,
                    url.to_owned(),
                    AnyPoolOptions::new().max_connections(POSTGRES_MAX_CONNECTIONS),
                    None,
                )
            }
            _ => {
                let msg = "unsupported database URL: expected sqlite: or postgres://";
                return Err(open_err(sqlx::Error::Configuration(msg.into())));
            }
        };
        let pool = options.connect(&connect_url).await.map_err(open_err)?;
        if let Err(cause) = migrate(&pool, backend).await {
            pool.close().await;
            return Err(StoreError::Migrate { url: shown, cause });
        }
        debug!(url = %shown, backend = ?backend, "mapping store open");
        Ok(Self {
            pool,
            readers,
            backend,
        })
    }
}

/// How long connecting to a database server may take before it is reported as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a SQLite migration that lost a race with another process is tried again.
const SQLITE_MIGRATE_ATTEMPTS: u32 = 10;

/// One connection to `url`, or the reason there is none, within [`CONNECT_TIMEOUT`].
async fn connect_once(url: &str) -> Result<AnyConnection, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(url)).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the server did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        ))),
    }
}

/// Brings the schema up to date.
///
/// On PostgreSQL sqlx holds an advisory lock while it migrates, so concurrent openers wait
/// for each other. On SQLite it takes no lock: two processes opening a fresh file at once
/// both try to create the tables, and the loser fails ("table … already exists", or
/// `SQLITE_BUSY` when its read snapshot went stale). Every migration runs in a transaction,
/// so the loser left nothing behind; it tries again, finds the migration recorded, and is done.
async fn migrate(pool: &sqlx::AnyPool, backend: Backend) -> Result<(), MigrateError> {
    let migrator = Migrator::new(Embedded(backend)).await?;
    let mut attempt = 1;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e @ (MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)))
                if backend == Backend::Sqlite && attempt < SQLITE_MIGRATE_ATTEMPTS =>
            {
                debug!(attempt, error = %e, "sqlite migration lost a race; trying again");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The file a SQLite URL opens, when opening it may create it (no `mode=`, or `mode=rwc`).
fn sqlite_file_to_create(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = query.split('&').find_map(|kv| kv.strip_prefix("mode="));
    let creates = matches!(mode, None | Some("rwc"));
    let special = path.is_empty() || path == ":memory:" || path.starts_with("file:");
    (creates && !special).then(|| Path::new(path))
}

/// Creates `path` empty and readable by its owner only, unless it exists. SQLite takes an
/// empty file as an empty database, and gives its `-wal` and `-shm` files the database file's
/// permissions: the messages and IDs they hold stay private.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot create {}: {e}", path.display()),
        )),
    }
}

/// Pool settings for SQLite.
fn sqlite_pool(in_memory: bool) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        // A ping per checkout would cost a round trip to the connection's worker thread, and
        // a local file does not hang up.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    conn.execute(*pragma).await?;
                }
                Ok(())
            })
        });
    if in_memory {
        // Every connection to `:memory:` is a database of its own, and the database dies with
        // its connection: keep exactly one, forever.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options.max_connections(SQLITE_WRITERS)
    }
}

/// The URL's scheme (`sqlite`, `postgres`, …), as written.
fn scheme(url: &str) -> Option<&str> {
    url.split_once(':').map(|(scheme, _)| scheme)
}

/// The URL to connect to a SQLite database with, and whether it is in memory. A file is
/// created if missing (`mode=rwc`) unless the URL already asks for a mode.
fn sqlite_url(url: &str) -> (String, bool) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest
        .split_once('?')
        .map_or((rest, None), |(p, q)| (p, Some(q)));
    let params = query.unwrap_or("").split('&');
    let has_mode = params.clone().any(|kv| kv.starts_with("mode="));
    let in_memory = path == ":memory:" || params.clone().any(|kv| kv == "mode=memory");
    let connect_url = match query {
        _ if in_memory || has_mode => url.to_owned(),
        None => format!("{url}?mode=rwc"),
        Some("") => format!("{url}mode=rwc"),
        Some(_) => format!("{url}&mode=rwc"),
    };
    (connect_url, in_memory)
}

/// `url` without its password, for errors and logs. Removes the password of the user info
/// (`postgres://user:secret@host` → `postgres://user@host`) and any `password=` query
/// parameter. SQLite URLs hold no credentials and are returned as they are.
///
/// A password may hold unescaped `@`, `/` or `?` (libpq accepts some of them), so the user info
/// is taken to end at the *last* `@`: when in doubt, this removes too much rather than too
/// little.
pub fn redact_url(url: &str) -> String {
    if scheme(url) == Some("sqlite") {
        return url.to_owned();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL (perhaps a libpq `key=value` string): show nothing of it.
        return "<unparsable database URL>".to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => Cow::Owned(format!("{user}@{host}")),
            None => Cow::Borrowed(rest),
        },
        None => Cow::Borrowed(rest),
    };
    let rest = match rest.split_once('?') {
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| {
                    let key = kv.split_once('=').map_or(*kv, |(k, _)| k);
                    !key.eq_ignore_ascii_case("password")
                })
                .collect();
            if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
        None => rest.into_owned(),
    };
    format!("{scheme}://{rest}")
}

/// The migrations compiled into the binary, for one backend.
#[derive(Debug)]
struct Embedded(Backend);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match self.0 {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_the_user_info_password() {
        assert_eq!(
            redact_url("postgres://kb:s3cret@db.example:5432/kbbridge"),
            "postgres://kb@db.example:5432/kbbridge"
        );
        assert_eq!(
            redact_url("postgresql://:s3cret@db/kb"),
            "postgresql://@db/kb"
        );
    }

    #[test]
    fn redact_handles_unescaped_characters_in_the_password() {
        let shown = redact_url("postgres://kb:p@ss/w?rd@db.example/kbbridge?sslmode=require");
        assert_eq!(shown, "postgres://kb@db.example/kbbridge?sslmode=require");
        assert!(!shown.contains("ss/w"));
    }

    #[test]
    fn redact_removes_password_parameters() {
        assert_eq!(
            redact_url("postgres://db/kb?user=kb&password=s3cret&sslmode=require"),
            "postgres://db/kb?user=kb&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/kb?PASSWORD=s3cret"),
            "postgres://db/kb"
        );
    }

    #[test]
    fn redact_keeps_urls_without_credentials() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://db/kb?options=-c%20search_path%3Dkbt",
            "sqlite://data/kbbridge.db",
            "sqlite:/var/lib/kb:b@x/store.db",
            "sqlite::memory:",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn redact_hides_strings_that_are_not_urls() {
        assert_eq!(
            redact_url("host=db password=s3cret"),
            "<unparsable database URL>"
        );
    }

    #[test]
    fn sqlite_files_are_created_only_when_the_url_allows_it() {
        assert_eq!(
            sqlite_file_to_create("sqlite://a/b.db"),
            Some(Path::new("a/b.db"))
        );
        assert_eq!(
            sqlite_file_to_create("sqlite:///srv/kb.db?mode=rwc"),
            Some(Path::new("/srv/kb.db"))
        );
        assert_eq!(
            sqlite_file_to_create("sqlite:b.db?cache=shared"),
            Some(Path::new("b.db"))
        );
        for url in [
            "sqlite:b.db?mode=ro",
            "sqlite:b.db?mode=rw",
            "sqlite::memory:",
            "sqlite://?mode=memory",
            "sqlite:file:x.db",
            "postgres://db/kb",
        ] {
            assert_eq!(sqlite_file_to_create(url), None, "{url}");
        }
    }

    #[test]
    fn sqlite_urls_create_missing_files() {
        assert_eq!(
            sqlite_url("sqlite://a/b.db"),
            ("sqlite://a/b.db?mode=rwc".to_owned(), false)
        );
        assert_eq!(
            sqlite_url("sqlite:b.db"),
            ("sqlite:b.db?mode=rwc".to_owned(), false)
        );
        assert_eq!(
            sqlite_url("sqlite:b.db?"),
            ("sqlite:b.db?mode=rwc".to_owned(), false)
        );
        assert_eq!(
            sqlite_url("sqlite:b.db?cache=shared"),
            ("sqlite:b.db?cache=shared&mode=rwc".to_owned(), false)
        );
        assert_eq!(
            sqlite_url("sqlite:b.db?mode=ro"),
            ("sqlite:b.db?mode=ro".to_owned(), false)
        );
        assert_eq!(
            sqlite_url("sqlite::memory:"),
            ("sqlite::memory:".to_owned(), true)
        );
        assert_eq!(
            sqlite_url("sqlite://?mode=memory"),
            ("sqlite://?mode=memory".to_owned(), true)
        );
    }
}
