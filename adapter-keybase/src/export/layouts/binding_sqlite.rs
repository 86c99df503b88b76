//! dentropy/keybase-binding's SQLite database, `keybase_export.sqlite`.
//!
//! What is read, exactly (the schema its `ExportKeybase.py` creates, columns untyped):
//!
//! * `team_messages_t(team_name, topic_name, message_json)` and
//!   `group_messages_t(group_name, message_json)`: only `message_json`, of every row, in
//!   `rowid` order. Each holds one `{"msg": …}` wrapper of a `read` reply, as the tool inserts
//!   it (`json(json.dumps(message))`: compact JSON text), so it is read as a raw dump; the chat
//!   comes from the wrapper's own `channel`, not from `team_name`/`topic_name`/`group_name`.
//!   A missing table is passed over; a database with neither is refused.
//! * Nothing else: `whoami_t`, `teams_t`, `team_members_t`, `team_channels_t`,
//!   `group_channels_t`, `git_repos_t`, `followers_t`, `following_t`, `user_metadata_t` hold no
//!   messages. (Older versions of the tool created `team_chats_t`/`group_chats_t` but wrote
//!   their messages to JSON files only; those tables are not read.)
//!
//! Assumptions where the tool's documentation is silent: `message_json` is text (a blob is
//! read the same), one wrapper per row, and the row order is irrelevant (messages are sorted
//! by id anyway). Attachments are where the tool downloads them, `Attachments/` beside the
//! database, named `<uid>-<sent_at_ms>-<filename>`.
//!
//! Memory stays flat: the rows are copied, a thousand at a time, into a temporary file of one
//! wrapper per line (line breaks inside a row, which compact JSON never has, become spaces),
//! deleted when the export is dropped; that file is then indexed like any raw dump. It costs
//! disk space about the size of the messages. Reports name `<database>[<table>]` and line N for
//! the table's Nth row in `rowid` order (the rowid itself, as the tool inserts rows).

use std::{
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use sqlx::{ConnectOptions, Row, sqlite::SqliteConnectOptions};
use tempfile::TempPath;
use tracing::info;

use super::{ExportLayout, Plan, binding, unknown};
use crate::{
    error::KeybaseError,
    export::{ExportFormat, attachments::Naming, segments::PartSpec},
};

/// The tables holding messages, in reading order.
const TABLES: [&str; 2] = ["team_messages_t", "group_messages_t"];

/// Rows fetched at once.
const BATCH: i64 = 1000;

/// Reads the database `db`.
pub(super) fn plan(db: &Path) -> Result<Plan, KeybaseError> {
    let mut plan = Plan::new(ExportLayout::KeybaseBindingSqlite, db, ExportFormat::RawApi);
    let folder = db.parent().unwrap_or(Path::new(""));
    let dir = plan.dir(folder.join(binding::ATTACHMENTS), Naming::SenderTime);
    let copies = copy_in_thread(db)?;
    if copies.is_empty() {
        let detail = format!(
            "an SQLite database, but without keybase-binding's {} or {} table",
            TABLES[0], TABLES[1]
        );
        return Err(unknown(db, detail));
    }
    for (table, copy) in copies {
        plan.parts.push(PartSpec {
            path: copy.to_path_buf(),
            label: PathBuf::from(format!("{}[{table}]", db.display())),
            format: ExportFormat::RawApi,
            dir,
            committed: None,
            one_per_line: true,
        });
        plan.copies.push(copy);
    }
    Ok(plan)
}

/// [`copy`] on a thread of its own with its own runtime: the reader is blocking and may be
/// called from anywhere, even from inside another runtime, where blocking on one would panic.
fn copy_in_thread(db: &Path) -> Result<Vec<(&'static str, TempPath)>, KeybaseError> {
    let copied = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| database(db, format!("cannot start its reader: {e}")))?;
                runtime.block_on(copy(db))
            })
            .join()
    });
    copied.unwrap_or_else(|_| Err(database(db, "its reader stopped unexpectedly".to_owned())))
}

/// Copies `message_json` of every row of each table there is into a temporary file.
async fn copy(db: &Path) -> Result<Vec<(&'static str, TempPath)>, KeybaseError> {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .create_if_missing(false)
        .disable_statement_logging();
    let mut conn = options
        .connect()
        .await
        .map_err(|e| database(db, e.to_string()))?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| database(db, e.to_string()))?;
    let mut copies = Vec::new();
    for table in TABLES {
        if !names.iter().any(|n| n == table) {
            continue;
        }
        let fail = |detail: String| database(db, format!("table {table}: {detail}"));
        let file = tempfile::Builder::new()
            .prefix("kbbridge-sqlite-")
            .suffix(".jsonl")
            .tempfile()
            .map_err(|e| fail(format!("cannot create a temporary copy: {e}")))?;
        let (file, path) = file.into_parts();
        let mut out = BufWriter::with_capacity(1 << 16, file);
        // `table` is one of TABLES, never text from the file.
        let sql = format!(
            "SELECT rowid, CAST(message_json AS BLOB) FROM {table} WHERE rowid > ? \
             ORDER BY rowid LIMIT {BATCH}"
        );
        let (mut after, mut rows) = (i64::MIN, 0u64);
        loop {
            let batch = sqlx::query(&sql)
                .bind(after)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| fail(e.to_string()))?;
            for row in &batch {
                after = row.try_get(0).map_err(|e| fail(e.to_string()))?;
                let json: Option<Vec<u8>> = row.try_get(1).map_err(|e| fail(e.to_string()))?;
                // A NULL row is written as `null`, which the scan reports as not a wrapper.
                let mut json = json.unwrap_or_else(|| b"null".to_vec());
                json.iter_mut()
                    .filter(|b| matches!(b, b'\n' | b'\r'))
                    .for_each(|b| *b = b' ');
                out.write_all(&json)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| fail(format!("cannot write the temporary copy: {e}")))?;
                rows += 1;
            }
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
        out.flush()
            .map_err(|e| fail(format!("cannot write the temporary copy: {e}")))?;
        info!(database = %db.display(), table, rows, "copied keybase-binding messages");
        copies.push((table, path));
    }
    Ok(copies)
}

fn database(db: &Path, detail: String) -> KeybaseError {
    KeybaseError::Database {
        path: db.to_owned(),
        detail,
    }
}
