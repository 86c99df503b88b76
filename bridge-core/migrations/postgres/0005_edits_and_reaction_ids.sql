-- What the live relay keeps of edits and of reactions' own IDs. Keep it in step with
-- ../sqlite/0005_edits_and_reaction_ids.sql.

-- The text of a copy, where part 0 alone does not describe it: the parts that carry the text,
-- in text order (`0,1`), the next part number free for a text part an edit adds (after every
-- part the copy ever had), and the time of the newest edit applied to the copy, so an older
-- edit seen later is skipped. Written when a copy's text takes several parts, and by every
-- edit applied.
CREATE TABLE copy_text (
    origin_platform TEXT COLLATE "C" NOT NULL,
    origin_chat     TEXT COLLATE "C" NOT NULL,
    origin_msg      TEXT COLLATE "C" NOT NULL,
    platform        TEXT COLLATE "C" NOT NULL,
    chat            TEXT COLLATE "C" NOT NULL,
    parts           TEXT NOT NULL,
    next_part       BIGINT NOT NULL,
    edited_at       BIGINT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (origin_platform, origin_chat, origin_msg, platform, chat)
);

-- Each reaction relayed, under its own ID in its source chat (a Keybase reaction message, a
-- Matrix annotation event), with what it was: a later delete or redaction of that ID takes
-- it back. `removed_at` is set once it is taken back, so a replay of either event does
-- nothing.
CREATE TABLE reaction_source (
    platform        TEXT COLLATE "C" NOT NULL,
    chat            TEXT COLLATE "C" NOT NULL,
    reaction        TEXT COLLATE "C" NOT NULL,
    origin_platform TEXT COLLATE "C" NOT NULL,
    origin_chat     TEXT COLLATE "C" NOT NULL,
    origin_msg      TEXT COLLATE "C" NOT NULL,
    sender_id       TEXT COLLATE "C" NOT NULL,
    sender_name     TEXT COLLATE "C" NOT NULL,
    emoji           TEXT COLLATE "C" NOT NULL,
    removed_at      BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (platform, chat, reaction)
);
