-- The subscription flow's own mail (confirmations, welcomes), queued in the store so the
-- subscribe route answers before any relay is involved and a restart never loses a message.
-- A row names its recipient by subscriber id and its kind only: the message, its token and
-- the address are produced when it is sent, so no live token sits here in plain text and an
-- erased subscriber takes their queued mail with them (ON DELETE CASCADE).
CREATE TABLE outgoing_mail (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'welcome')),
  subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  lease_holder TEXT,
  lease_until TEXT,
  last_reply TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Claiming reads queued rows that are due, and sending rows whose lease lapsed, by date.
CREATE INDEX outgoing_mail_state_due ON outgoing_mail (state, next_attempt_at);
CREATE INDEX outgoing_mail_state_lease ON outgoing_mail (state, lease_until);
CREATE INDEX outgoing_mail_subscriber ON outgoing_mail (subscriber_id);

-- The per-mailbox budget folds `+tag`s: `a+x@d` and `a+y@d` share this hash (of `a@d`,
-- lower-cased), while `email_hash` still tells the addresses apart. Older rows have none and
-- count only for their own address.
ALTER TABLE confirmation_log ADD COLUMN mailbox_hash TEXT;
CREATE INDEX confirmation_log_mailbox_sent ON confirmation_log (mailbox_hash, sent_at);
