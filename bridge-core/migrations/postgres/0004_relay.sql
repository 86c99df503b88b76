-- What the live relay keeps. Keep it in step with ../sqlite/0004_relay.sql.

-- Where each chat's live source stands: a restart catches up strictly after it.
CREATE TABLE live_position (
    platform   TEXT COLLATE "C"    NOT NULL,
    chat       TEXT COLLATE "C"    NOT NULL,
    position   TEXT COLLATE "C"    NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (platform, chat)
);

-- Edits, deletes and reactions applied to a target chat, journalled like parts: written
-- `pending` before they are applied and `done` after, so a crash never applies one twice or
-- loses it. Keyed by the operation's own ID in its source (an edit or redaction event, a
-- Keybase edit, delete or reaction message).
CREATE TABLE op_copy (
    source_platform TEXT COLLATE "C"    NOT NULL,
    source_chat     TEXT COLLATE "C"    NOT NULL,
    source_op       TEXT COLLATE "C"    NOT NULL,
    platform        TEXT COLLATE "C"    NOT NULL,
    chat            TEXT COLLATE "C"    NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'done')),
    result          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (source_platform, source_chat, source_op, platform, chat)
);

-- One row per source user's reaction copied onto a target message. For a target whose
-- reactions are shared (one per emoji for the bridge account), the rows of one (message,
-- emoji) are its reference count: the reaction is taken back with the last of them.
CREATE TABLE reaction_copy (
    origin_platform TEXT COLLATE "C"    NOT NULL,
    origin_chat     TEXT COLLATE "C"    NOT NULL,
    origin_msg      TEXT COLLATE "C"    NOT NULL,
    sender          TEXT COLLATE "C"    NOT NULL,
    emoji           TEXT COLLATE "C"    NOT NULL,
    platform        TEXT COLLATE "C"    NOT NULL,
    chat            TEXT COLLATE "C"    NOT NULL,
    msg             TEXT COLLATE "C"    NOT NULL,
    reaction        TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (origin_platform, origin_chat, origin_msg, sender, emoji, platform, chat)
);

CREATE INDEX reaction_copy_target ON reaction_copy (platform, chat, msg, emoji);

-- Messages deleted before they arrived (a delete overtaking its message): a late copy of one
-- is not made.
CREATE TABLE tombstone (
    platform   TEXT COLLATE "C"    NOT NULL,
    chat       TEXT COLLATE "C"    NOT NULL,
    msg        TEXT COLLATE "C"    NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (platform, chat, msg)
);
