-- Roles (DESIGN.md §5): several long-running instances and workers share one store.

-- Every sender that runs a while (a `worker`, a daemon) keeps a row here with its heartbeat, so
-- `status` (another process, maybe another machine) can show who is sending and how fast. A row
-- whose heartbeat is older than a few leases belongs to a sender that died: not shown, pruned.
CREATE TABLE workers (
  holder TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  role TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL,
  in_flight INTEGER NOT NULL DEFAULT 0,
  sent_total INTEGER NOT NULL DEFAULT 0,
  -- Messages per second over the last heartbeat interval.
  rate REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The global rate limit (`delivery.globalRateLimit`): one row per limit holding the instant (epoch
-- milliseconds, fractional) from which the next send slot is free. Senders reserve a few slots
-- at a time, each `1000 / rate` ms after the previous one, in one compare-and-set update, so the
-- slots of all senders together never come closer than that.
CREATE TABLE rate_slots (
  name TEXT PRIMARY KEY,
  next_at_ms REAL NOT NULL
) WITHOUT ROWID;

-- Issues planned while `schedule.sendWindow` is set wait for the window: the build records the
-- hold before it plans them, the scheduling instance lifts every hold when the window opens,
-- and workers (which have no cron and no issue files) send only issues without one.
CREATE TABLE send_holds (
  issue_slug TEXT PRIMARY KEY REFERENCES issues (slug),
  held_at TEXT NOT NULL
) WITHOUT ROWID;
