-- What an issue's messages are made of, frozen when it is planned (DESIGN.md §4 "The rendition
-- lives in the store"): a sender needs this row, the config, the secret and the DKIM key, never
-- the project tree. The html and text hold the per-recipient slots (EMAIL_SLOTS) the message
-- template fills; the From, site URL and List-Id are the ones the email was rendered with, so
-- every sender of one issue sends the same message and the preflight checks what goes out.
-- `render_key` is the build's key (content, templates, site config, dates): the build replaces
-- the row under a new key only while the issue is `planned`, never once it is being sent.
CREATE TABLE renditions (
  issue_slug TEXT PRIMARY KEY REFERENCES issues (slug),
  render_key TEXT NOT NULL,
  subject TEXT NOT NULL,
  preheader TEXT NOT NULL,
  html TEXT NOT NULL,
  text TEXT NOT NULL,
  -- The issue's front matter publish_at (ISO), or NULL when it had none.
  publish_at TEXT,
  site_url TEXT NOT NULL,
  from_name TEXT,
  from_address TEXT NOT NULL,
  reply_to TEXT,
  envelope_from TEXT NOT NULL,
  list_id TEXT NOT NULL,
  unsubscribe_mailto TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- When the issue last changed state (a guarded transition); NULL for rows recorded before.
ALTER TABLE issues ADD COLUMN state_changed_at TEXT;
