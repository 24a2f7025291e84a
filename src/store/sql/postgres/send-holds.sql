-- Issues waiting for the send window (see migrations/002-workers-rate-holds.sql).

-- name: hold
INSERT INTO send_holds (issue_slug, held_at) VALUES (:issueSlug, :at)
ON CONFLICT (issue_slug) DO NOTHING;

-- name: list
SELECT issue_slug AS "issueSlug" FROM send_holds ORDER BY issue_slug;

-- name: release-all
DELETE FROM send_holds RETURNING issue_slug AS "issueSlug";
