-- The PostgreSQL schema: the same tables, columns and rules as the SQLite store, so both pass
-- one contract suite. Instants are UTC ISO-8601 text (`2026-01-02T03:04:05.000Z`) exactly as
-- the store was given them after normalising: callers get back what they stored, and they
-- compare and sort correctly as text under the "C" collation (byte order, whatever the
-- database's locale). Ids are identities: never reused after an erasure, because unsubscribe
-- tokens and Message-IDs carry the subscriber id.

CREATE TABLE subscribers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  -- The lower-cased address: uniqueness is case-insensitive, the stored spelling is kept.
  email_key text NOT NULL UNIQUE,
  name text,
  status text NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
  source text NOT NULL CHECK (source IN ('add', 'import', 'form', 'api')),
  created_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL,
  confirmed_at text COLLATE "C",
  unsubscribed_at text COLLATE "C"
);

-- Planning walks the active subscribers in id order, in chunks.
CREATE INDEX subscribers_status_id ON subscribers (status, id);

-- Erased addresses: only the sha256 hex of the lower-cased address.
CREATE TABLE suppressions (
  email_hash text PRIMARY KEY,
  created_at text COLLATE "C" NOT NULL
);

CREATE TABLE issues (
  slug text COLLATE "C" PRIMARY KEY,
  title text NOT NULL,
  content_hash text NOT NULL,
  source_file text NOT NULL,
  state text NOT NULL CHECK (state IN ('draft', 'scheduled', 'published', 'planned', 'sending', 'sent', 'archived')),
  first_seen_at text COLLATE "C" NOT NULL,
  published_at text COLLATE "C",
  updated_at text COLLATE "C" NOT NULL,
  feed_id text NOT NULL,
  -- When the issue last changed state (a guarded transition).
  state_changed_at text COLLATE "C"
);

CREATE INDEX issues_content_hash ON issues (content_hash);
CREATE INDEX issues_first_seen ON issues (first_seen_at, slug);

-- The delivery ledger and work queue: one row per (issue, subscriber), frozen at planning.
-- No foreign keys here, on purpose: their per-row checks would make planning a million rows
-- several times slower. The two statements that could break the references keep them instead:
-- planning adds rows only for an issue it finds and for subscribers it reads, under a shared
-- advisory lock that erasing a subscriber takes exclusively before it deletes the subscriber
-- and their rows (connection.sql lock-ledger-*); issues are never deleted.
CREATE TABLE deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  issue_slug text COLLATE "C" NOT NULL,
  subscriber_id bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  -- Who holds the row while `sending` (`host:pid:random`), and until when.
  holder text,
  lease_until text COLLATE "C",
  next_attempt_at text COLLATE "C",
  last_reply text,
  created_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL,
  -- Subscriber first: planning twice adds nothing, and erasing finds a subscriber's rows here.
  UNIQUE (subscriber_id, issue_slug)
);

-- Claiming finds the next queued rows of an issue in id order without walking the rows
-- already sent; counting by state reads only this index.
CREATE INDEX deliveries_issue_state_id ON deliveries (issue_slug, state, id);
-- Due deferred rows are found by date; also answers "when is the next retry".
CREATE INDEX deliveries_deferred_due ON deliveries (issue_slug, next_attempt_at) WHERE state = 'deferred';
-- The heartbeat and the hand-back at the end of a run find a holder's rows in flight directly.
CREATE INDEX deliveries_holder ON deliveries (holder) WHERE holder IS NOT NULL;

CREATE TABLE leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  until text COLLATE "C" NOT NULL
);

CREATE TABLE secrets (
  kid text COLLATE "C" PRIMARY KEY,
  secret text NOT NULL,
  created_at text COLLATE "C" NOT NULL
);

-- Confirmation emails sent by the subscription form (the per-address limits), naming the
-- address and its mailbox (`+tag`s folded) only by hashes.
CREATE TABLE confirmation_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email_hash text NOT NULL,
  mailbox_hash text,
  sent_at text COLLATE "C" NOT NULL
);

CREATE INDEX confirmation_log_email_sent ON confirmation_log (email_hash, sent_at);
CREATE INDEX confirmation_log_mailbox_sent ON confirmation_log (mailbox_hash, sent_at);
CREATE INDEX confirmation_log_sent ON confirmation_log (sent_at);

-- The last session error of each issue whose sending is stalled (`status` reads it).
CREATE TABLE send_stalls (
  issue_slug text COLLATE "C" PRIMARY KEY REFERENCES issues (slug),
  code text NOT NULL,
  message text NOT NULL,
  since text COLLATE "C" NOT NULL,
  last_at text COLLATE "C" NOT NULL,
  next_retry_at text COLLATE "C"
);

-- The subscription flow's own mail (confirmations, welcomes): recipient and kind only, the
-- message and its token are made when it is sent.
CREATE TABLE outgoing_mail (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('confirmation', 'welcome')),
  subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at text COLLATE "C" NOT NULL,
  lease_holder text,
  lease_until text COLLATE "C",
  last_reply text,
  created_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL
);

CREATE INDEX outgoing_mail_state_due ON outgoing_mail (state, next_attempt_at);
CREATE INDEX outgoing_mail_state_lease ON outgoing_mail (state, lease_until);
CREATE INDEX outgoing_mail_subscriber ON outgoing_mail (subscriber_id);

-- What an issue's messages are made of, frozen when it is planned (DESIGN.md §4).
CREATE TABLE renditions (
  issue_slug text COLLATE "C" PRIMARY KEY REFERENCES issues (slug),
  render_key text NOT NULL,
  subject text NOT NULL,
  preheader text NOT NULL,
  html text NOT NULL,
  text text NOT NULL,
  publish_at text COLLATE "C",
  site_url text NOT NULL,
  from_name text,
  from_address text NOT NULL,
  reply_to text,
  envelope_from text NOT NULL,
  list_id text NOT NULL,
  unsubscribe_mailto text,
  created_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL
);
