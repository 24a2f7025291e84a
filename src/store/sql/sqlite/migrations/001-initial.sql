-- The first schema. Instants are UTC ISO-8601 strings (`2026-01-02T03:04:05.000Z`), which
-- sort and compare correctly as text; the store normalises every instant it is given.

-- AUTOINCREMENT: an id is never reused after an erasure, because unsubscribe tokens and
-- Message-IDs carry the subscriber id and must never point at somebody else later.
CREATE TABLE subscribers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL,
  -- The lower-cased address: uniqueness is case-insensitive, the stored spelling is kept.
  email_key TEXT NOT NULL UNIQUE,
  name TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
  source TEXT NOT NULL CHECK (source IN ('add', 'import', 'form', 'api')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  confirmed_at TEXT,
  unsubscribed_at TEXT
);

-- Planning walks the active subscribers in id order, in chunks.
CREATE INDEX subscribers_status_id ON subscribers (status, id);

-- Erased addresses: only the sha256 hex of the lower-cased address, so a later import cannot
-- silently re-add it while no personal data stays behind.
CREATE TABLE suppressions (
  email_hash TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE issues (
  slug TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  source_file TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'published', 'planned', 'sending', 'sent', 'archived')),
  first_seen_at TEXT NOT NULL,
  published_at TEXT,
  updated_at TEXT NOT NULL,
  feed_id TEXT NOT NULL
);

CREATE INDEX issues_content_hash ON issues (content_hash);
CREATE INDEX issues_first_seen ON issues (first_seen_at, slug);

-- The delivery ledger and work queue: one row per (issue, subscriber), frozen at planning.
-- Erasing a subscriber deletes their rows with them.
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  issue_slug TEXT NOT NULL REFERENCES issues (slug),
  subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'skipped')),
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until TEXT,
  next_attempt_at TEXT,
  last_reply TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (issue_slug, subscriber_id)
);

-- Claiming finds the next queued / deferred / leased rows of an issue in id order without
-- walking the rows already sent; counting by state reads only this index.
CREATE INDEX deliveries_issue_state_id ON deliveries (issue_slug, state, id);
-- Due deferred rows are found by date, not by walking every deferred row (a greylisting relay
-- can defer most of a send); also answers "when is the next retry" from the index alone.
CREATE INDEX deliveries_deferred_due ON deliveries (issue_slug, next_attempt_at) WHERE state = 'deferred';
-- Erasing a subscriber (the cascade above) must not scan the whole ledger.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE secrets (
  kid TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
