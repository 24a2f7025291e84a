-- The last session error of each issue whose sending is stalled (a dead relay, refused login,
-- a policy rejection): `status` runs in another process than the sender, so the sender writes
-- it here. One row per stalled issue; `since` is when the current run of failures began and
-- stays put while the same issue keeps failing; a send that makes progress deletes the row.
CREATE TABLE send_stalls (
  issue_slug TEXT PRIMARY KEY REFERENCES issues (slug),
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  since TEXT NOT NULL,
  last_at TEXT NOT NULL,
  -- When a sender will try again (the daemon's next pass); NULL when nobody is scheduled to.
  next_retry_at TEXT
) WITHOUT ROWID;
