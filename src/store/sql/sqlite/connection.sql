-- Connection set-up and schema bookkeeping for the SQLite store.

-- name: set-pragmas
-- WAL lets readers run beside the one writer. synchronous = NORMAL: in WAL mode a commit is
-- written to the WAL without an fsync, and the WAL is synced at each checkpoint. A crash of the
-- process loses nothing; a power cut or an OS crash may take back the commits since the last
-- checkpoint, never corrupting the file. FULL would fsync every commit (about 3 ms on the
-- development machine, several times a whole subscribe request), and what NORMAL can lose is
-- what a visitor recovers from by subscribing again. The lock wait is short on purpose (set
-- when the connection opens): SQLite waits synchronously, so the store retries a locked call
-- itself, off the event loop.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
-- 2 MB of page cache (better-sqlite3 builds SQLite with 16 MB per connection). The hot pages of
-- planning, claiming and marking are the tails of a few indexes, walked in id order; the rest
-- is the OS page cache's job, which a second process on the same file shares.
PRAGMA cache_size = -2000;

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
