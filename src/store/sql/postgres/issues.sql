-- Issues as the store records them. Every SELECT returns `IssueRecord` field names.

-- name: get
SELECT slug, title, content_hash AS "contentHash", source_file AS "sourceFile", state,
       first_seen_at AS "firstSeenAt", published_at AS "publishedAt", updated_at AS "updatedAt", feed_id AS "feedId"
FROM issues
WHERE slug = :slug;

-- name: lock
-- The issue row under a lock: a transition racing an unplan waits, then finds the new state.
SELECT slug, title, content_hash AS "contentHash", source_file AS "sourceFile", state,
       first_seen_at AS "firstSeenAt", published_at AS "publishedAt", updated_at AS "updatedAt", feed_id AS "feedId"
FROM issues
WHERE slug = :slug
FOR UPDATE;

-- name: find-by-content-hash
SELECT slug, title, content_hash AS "contentHash", source_file AS "sourceFile", state,
       first_seen_at AS "firstSeenAt", published_at AS "publishedAt", updated_at AS "updatedAt", feed_id AS "feedId"
FROM issues
WHERE content_hash = :contentHash
ORDER BY first_seen_at, slug
LIMIT 1;

-- name: list
SELECT slug, title, content_hash AS "contentHash", source_file AS "sourceFile", state,
       first_seen_at AS "firstSeenAt", published_at AS "publishedAt", updated_at AS "updatedAt", feed_id AS "feedId"
FROM issues
ORDER BY first_seen_at, slug;

-- name: record
-- Recording is compare-and-set: the first process to record a slug wins, with its state; a
-- second one changes nothing (0 rows) and reads what the winner recorded.
INSERT INTO issues (slug, title, content_hash, source_file, state, first_seen_at, published_at, updated_at, feed_id, state_changed_at)
VALUES (:slug, :title, :contentHash, :sourceFile, :state, :firstSeenAt, :publishedAt::text, :updatedAt, :feedId, :publishedAt::text)
ON CONFLICT (slug) DO NOTHING;

-- name: save
-- The slug, feed id, first-seen date and state are frozen at the first save: only
-- `transition` (a compare-and-set naming the states it may come from) moves an issue.
INSERT INTO issues (slug, title, content_hash, source_file, state, first_seen_at, published_at, updated_at, feed_id, state_changed_at)
VALUES (:slug, :title, :contentHash, :sourceFile, :state, :firstSeenAt, :publishedAt::text, :updatedAt, :feedId, :publishedAt::text)
ON CONFLICT (slug) DO UPDATE
SET title = excluded.title,
    content_hash = excluded.content_hash,
    source_file = excluded.source_file,
    published_at = excluded.published_at,
    updated_at = excluded.updated_at;

-- name: transition
-- Compare-and-set: moves the issue only from one of the states named in :from (a text array).
UPDATE issues SET state = :to, state_changed_at = :at
WHERE slug = :slug AND state = ANY (:from::text[]);

-- name: archive-unsent
-- Compare-and-set: only an issue nothing was sent for yet may become `archived` this way.
UPDATE issues SET state = 'archived', state_changed_at = :at WHERE slug = :slug AND state IN ('published', 'planned');

-- name: has-any
SELECT EXISTS (SELECT 1 FROM issues) AS present;

-- name: created-at
-- When the store was made: when its first migration ran (the backlog rule's "before the store").
SELECT MIN(applied_at) AS "createdAt" FROM schema_migrations;
