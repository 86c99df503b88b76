-- The mapping store's schema, SQLite dialect. Keep it in step with ../postgres/0001_init.sql:
-- same tables, columns and keys; only types and storage options differ.

-- Every part of every copy, under its origin. A message that is not a copy is its own origin
-- and has no row of its own.
CREATE TABLE message_copy (
    origin_platform TEXT    NOT NULL,
    origin_chat     TEXT    NOT NULL,
    origin_msg      TEXT    NOT NULL,
    platform        TEXT    NOT NULL,
    chat            TEXT    NOT NULL,
    part            INTEGER NOT NULL,
    msg             TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'rejected')),
    detail          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (origin_platform, origin_chat, origin_msg, platform, chat, part),
    UNIQUE (platform, chat, msg)
) WITHOUT ROWID;

-- `pending_in` and `rejected` look for the few rows in these states.
CREATE INDEX message_copy_pending ON message_copy (platform, chat)
    WHERE state = 'pending';
CREATE INDEX message_copy_rejected ON message_copy (origin_platform, origin_chat, platform, chat)
    WHERE state = 'rejected';

CREATE TABLE backfill_progress (
    src_platform TEXT    NOT NULL,
    src_chat     TEXT    NOT NULL,
    dst_platform TEXT    NOT NULL,
    dst_chat     TEXT    NOT NULL,
    cursor       TEXT,
    copied       INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (src_platform, src_chat, dst_platform, dst_chat)
) WITHOUT ROWID;

-- Rooms, channels, webhooks and spaces created or adopted on a target.
CREATE TABLE target (
    platform   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    target_id  TEXT    NOT NULL,
    adopted    INTEGER NOT NULL CHECK (adopted IN (0, 1)),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (platform, kind, key)
) WITHOUT ROWID;

-- The user (or ghost) made on `platform` for a user of `source_platform`.
CREATE TABLE ghost (
    platform        TEXT    NOT NULL,
    source_platform TEXT    NOT NULL,
    source_user     TEXT    NOT NULL,
    ghost_id        TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (platform, source_platform, source_user)
) WITHOUT ROWID;
