-- Issues as the store records them. Every SELECT returns `IssueRecord` field names.

-- name: get
SELECT slug, title, content_hash AS contentHash, source_file AS sourceFile, state,
       first_seen_at AS firstSeenAt, published_at AS publishedAt, updated_at AS updatedAt, feed_id AS feedId
FROM issues
WHERE slug = :slug;

-- name: find-by-content-hash
SELECT slug, title, content_hash AS contentHash, source_file AS sourceFile, state,
       first_seen_at AS firstSeenAt, published_at AS publishedAt, updated_at AS updatedAt, feed_id AS feedId
FROM issues
WHERE content_hash = :contentHash
ORDER BY first_seen_at, slug
LIMIT 1;

-- name: list
SELECT slug, title, content_hash AS contentHash, source_file AS sourceFile, state,
       first_seen_at AS firstSeenAt, published_at AS publishedAt, updated_at AS updatedAt, feed_id AS feedId
FROM issues
ORDER BY first_seen_at, slug;

-- name: save
-- The slug, feed id and first-seen date are frozen at the first save: the update leaves them.
INSERT INTO issues (slug, title, content_hash, source_file, state, first_seen_at, published_at, updated_at, feed_id)
VALUES (:slug, :title, :contentHash, :sourceFile, :state, :firstSeenAt, :publishedAt, :updatedAt, :feedId)
ON CONFLICT (slug) DO UPDATE
SET title = excluded.title,
    content_hash = excluded.content_hash,
    source_file = excluded.source_file,
    state = excluded.state,
    published_at = excluded.published_at,
    updated_at = excluded.updated_at;

-- name: set-state
UPDATE issues SET state = :state WHERE slug = :slug;

-- name: archive-unsent
-- Compare-and-set: only an issue nothing was sent for yet may become `archived` this way.
UPDATE issues SET state = 'archived' WHERE slug = :slug AND state IN ('published', 'planned');

-- name: has-any
SELECT EXISTS (SELECT 1 FROM issues) AS present;
