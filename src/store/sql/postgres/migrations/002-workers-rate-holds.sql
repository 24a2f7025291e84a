-- Roles (DESIGN.md §5): several long-running instances and workers share one store. The same
-- tables as SQLite's migration 008.

-- Every sender that runs a while (a `worker`, a daemon) keeps a row here with its heartbeat, so
-- `status` (on any machine) can show who is sending and how fast. A row whose heartbeat is older
-- than a few leases belongs to a sender that died: not shown, pruned.
CREATE TABLE workers (
  holder text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  role text NOT NULL,
  started_at text COLLATE "C" NOT NULL,
  heartbeat_at text COLLATE "C" NOT NULL,
  in_flight integer NOT NULL DEFAULT 0,
  sent_total bigint NOT NULL DEFAULT 0,
  -- Messages per second over the last heartbeat interval.
  rate double precision NOT NULL DEFAULT 0
);
CREATE INDEX workers_heartbeat ON workers (heartbeat_at);

-- The global rate limit (`delivery.globalRateLimit`): one row per limit holding the instant (epoch
-- milliseconds, fractional) from which the next send slot is free.
CREATE TABLE rate_slots (
  name text PRIMARY KEY,
  next_at_ms double precision NOT NULL
);

-- Issues planned while `schedule.sendWindow` is set wait for the window.
CREATE TABLE send_holds (
  issue_slug text PRIMARY KEY REFERENCES issues (slug),
  held_at text COLLATE "C" NOT NULL
);
