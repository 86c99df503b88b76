-- Leases: one writer per link. Keep it in step with ../sqlite/0002_lease.sql.
--
-- A row is never deleted: releasing a lease only ends it (`expires_at` = now), so `epoch` grows
-- by one at every acquisition and a holder that lost its lease can be told apart (fencing).
CREATE TABLE lease (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    holder      TEXT COLLATE "C" NOT NULL,
    epoch       BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
