-- What the live relay keeps. Keep it in step with ../postgres/0004_relay.sql.

-- Where each chat's live source stands: a restart catches up strictly after it.
CREATE TABLE live_position (
    platform   TEXT    NOT NULL,
    chat       TEXT    NOT NULL,
    position   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (platform, chat)
) WITHOUT ROWID;

-- Edits, deletes and reactions applied to a target chat, journalled like parts: written
-- `pending` before they are applied and `done` after, so a crash never applies one twice or
-- loses it. Keyed by the operation's own ID in its source (an edit or redaction event, a
-- Keybase edit, delete or reaction message).
CREATE TABLE op_copy (
    source_platform TEXT    NOT NULL,
    source_chat     TEXT    NOT NULL,
    source_op       TEXT    NOT NULL,
    platform        TEXT    NOT NULL,
    chat            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
    result          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (source_platform, source_chat, source_op, platform, chat)
) WITHOUT ROWID;

-- One row per source user's reaction copied onto a target message. For a target whose
-- reactions are shared (one per emoji for the bridge account), the rows of one (message,
-- emoji) are its reference count: the reaction is taken back with the last of them.
CREATE TABLE reaction_copy (
    origin_platform TEXT    NOT NULL,
    origin_chat     TEXT    NOT NULL,
    origin_msg      TEXT    NOT NULL,
    sender          TEXT    NOT NULL,
    emoji           TEXT    NOT NULL,
    platform        TEXT    NOT NULL,
    chat            TEXT    NOT NULL,
    msg             TEXT    NOT NULL,
    reaction        TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (origin_platform, origin_chat, origin_msg, sender, emoji, platform, chat)
) WITHOUT ROWID;

CREATE INDEX reaction_copy_target ON reaction_copy (platform, chat, msg, emoji);

-- Messages deleted before they arrived (a delete overtaking its message): a late copy of one
-- is not made.
CREATE TABLE tombstone (
    platform   TEXT    NOT NULL,
    chat       TEXT    NOT NULL,
    msg        TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (platform, chat, msg)
) WITHOUT ROWID;
