-- Leases: one writer per link. Keep it in step with ../postgres/0002_lease.sql.
--
-- A row is never deleted: releasing a lease only ends it (`expires_at` = now), so `epoch` grows
-- by one at every acquisition and a holder that lost its lease can be told apart (fencing).
CREATE TABLE lease (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
