-- The live inbox. Keep it in step with ../sqlite/0003_inbox.sql.
--
-- A platform that pushes events (a Matrix homeserver calling the appservice) is answered only
-- once what it pushed is written here; workers then take the items in `id` order and mark
-- them done. `as_txn` remembers every appservice transaction ID taken, so a transaction the
-- homeserver sends again (its answer was lost) is answered without effect; `native_id` (the
-- event's own ID on its platform) guards an event redelivered in another transaction.
CREATE TABLE as_txn (
    txn_id      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    received_at BIGINT NOT NULL
);

CREATE TABLE inbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ingress     TEXT COLLATE "C" NOT NULL,
    native_id   TEXT COLLATE "C" NOT NULL,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    done        BIGINT NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    UNIQUE (ingress, native_id)
);

-- Workers look for the few items not done yet.
CREATE INDEX inbox_waiting ON inbox (ingress, id) WHERE done = 0;
