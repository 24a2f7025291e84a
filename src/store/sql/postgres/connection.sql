-- Schema bookkeeping and locks for the PostgreSQL store. Advisory lock keys are derived from
-- names under `letterpress.`, so they never collide with another application's numbers.

-- name: lock-migrations
-- Held while migrating, by one process at a time: several starting at once migrate once.
SELECT pg_advisory_lock(hashtextextended('letterpress.migrate', 0));

-- name: unlock-migrations
SELECT pg_advisory_unlock(hashtextextended('letterpress.migrate', 0));

-- name: create-migrations-table
CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at text NOT NULL
);

-- name: list-migrations
SELECT version, name FROM schema_migrations ORDER BY version;

-- name: record-migration
INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, :name, :appliedAt);

-- name: lock-address
-- Serialises the transactions that read an address and then decide a write (upsert, erase,
-- a confirmation request), the way SQLite's one writer does, for that address only.
SELECT pg_advisory_xact_lock(hashtextextended('letterpress.address:' || :emailKey, 0));

-- name: lock-confirmation-log
-- The confirmation limits read counts (the address, its mailbox, everyone) and then record
-- one more: one such transaction at a time, so racing requests never both pass a limit.
SELECT pg_advisory_xact_lock(hashtextextended('letterpress.confirmation-log', 0));

-- name: lock-ledger-shared
-- Taken by each planning chunk: erasing a subscriber waits for it, and it for an erasure.
SELECT pg_advisory_xact_lock_shared(hashtextextended('letterpress.ledger-subscribers', 0));

-- name: lock-ledger-exclusive
-- Taken by an erasure before it deletes a subscriber and their delivery rows, so no planning
-- chunk can add a row for a subscriber that is gone (the ledger has no foreign keys).
SELECT pg_advisory_xact_lock(hashtextextended('letterpress.ledger-subscribers', 0));

-- name: notify-due
-- Wakes the senders that listen: rows of this issue can be claimed now.
SELECT pg_notify('letterpress_due', :issueSlug::text);

-- name: ping
SELECT 1 AS ok;
