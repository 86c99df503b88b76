-- The mapping store's schema, PostgreSQL dialect. Keep it in step with ../sqlite/0001_init.sql:
-- same tables, columns and keys; only types and storage options differ.
--
-- Text columns use the "C" collation so comparisons and ORDER BY are bytewise, as in SQLite:
-- both backends then list rows in the same order.

-- Every part of every copy, under its origin. A message that is not a copy is its own origin
-- and has no row of its own.
CREATE TABLE message_copy (
    origin_platform TEXT COLLATE "C" NOT NULL,
    origin_chat     TEXT COLLATE "C" NOT NULL,
    origin_msg      TEXT COLLATE "C" NOT NULL,
    platform        TEXT COLLATE "C" NOT NULL,
    chat            TEXT COLLATE "C" NOT NULL,
    part            BIGINT NOT NULL,
    msg             TEXT COLLATE "C",
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'sent', 'rejected')),
    detail          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (origin_platform, origin_chat, origin_msg, platform, chat, part),
    UNIQUE (platform, chat, msg)
);

-- `pending_in` and `rejected` look for the few rows in these states.
CREATE INDEX message_copy_pending ON message_copy (platform, chat)
    WHERE state = 'pending';
CREATE INDEX message_copy_rejected ON message_copy (origin_platform, origin_chat, platform, chat)
    WHERE state = 'rejected';

CREATE TABLE backfill_progress (
    src_platform TEXT COLLATE "C" NOT NULL,
    src_chat     TEXT COLLATE "C" NOT NULL,
    dst_platform TEXT COLLATE "C" NOT NULL,
    dst_chat     TEXT COLLATE "C" NOT NULL,
    cursor       TEXT,
    copied       BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    rejected     BIGINT NOT NULL DEFAULT 0,
    done         BIGINT NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (src_platform, src_chat, dst_platform, dst_chat)
);

-- Rooms, channels, webhooks and spaces created or adopted on a target.
CREATE TABLE target (
    platform   TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    target_id  TEXT NOT NULL,
    adopted    BIGINT NOT NULL CHECK (adopted IN (0, 1)),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (platform, kind, key)
);

-- The user (or ghost) made on `platform` for a user of `source_platform`.
CREATE TABLE ghost (
    platform        TEXT COLLATE "C" NOT NULL,
    source_platform TEXT COLLATE "C" NOT NULL,
    source_user     TEXT COLLATE "C" NOT NULL,
    ghost_id        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (platform, source_platform, source_user)
);
