-- The hand-off between kbbridge instances sharing one database. Keep it in step with
-- ../postgres/0006_handoff.sql.
--
-- The instance that holds a platform's ingress (its listener) writes each live event here,
-- under its source chat and a key unique per event (a redelivery or a catch-up that reads it
-- again writes nothing); the instance that holds the event's link relays the chat's waiting
-- events in `id` order and marks each done once applied. Done rows are kept a while, so a
-- late redelivery is still recognised, then pruned.
CREATE TABLE relay_event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT    NOT NULL,
    chat        TEXT    NOT NULL,
    native_id   TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    UNIQUE (platform, chat, native_id)
);

-- Link holders look for the few events of their chats not done yet.
CREATE INDEX relay_event_waiting ON relay_event (platform, chat, id) WHERE done = 0;
