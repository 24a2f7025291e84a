-- Connection set-up and schema bookkeeping for the SQLite store.

-- name: set-pragmas
-- WAL lets readers run beside the one writer; NORMAL is durable across application crashes
-- in WAL mode; the busy timeout makes a second process wait for the write lock, not fail.
PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;

-- name: read-journal-mode
PRAGMA journal_mode;

-- name: create-migrations-table
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
);

-- name: list-migrations
SELECT version, name FROM schema_migrations ORDER BY version;

-- name: record-migration
INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, :name, :appliedAt);
