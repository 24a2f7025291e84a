-- Confirmation emails sent by the subscription form, one row per email, so the per-address
-- limits (a resend cool-down, so many a day) hold across restarts and processes. Rows name the
-- address only by the sha256 hex of its lower-cased form, like `suppressions`: the log keeps no
-- address in clear, and an erased subscriber leaves nothing readable behind.
CREATE TABLE confirmation_log (
  id INTEGER PRIMARY KEY,
  email_hash TEXT NOT NULL,
  sent_at TEXT NOT NULL
);

-- "How many since, and the latest" reads one address's rows only, newest first.
CREATE INDEX confirmation_log_email_sent ON confirmation_log (email_hash, sent_at);
-- Pruning old rows walks by date.
CREATE INDEX confirmation_log_sent ON confirmation_log (sent_at);
