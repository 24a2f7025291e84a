-- Stalled sends: the last session error per issue.

-- name: record
-- A repeat keeps the first `since`: "stalled since" is when the failures began.
INSERT INTO send_stalls (issue_slug, code, message, since, last_at, next_retry_at)
VALUES (:issueSlug, :code, :message, :at, :at, :nextRetryAt)
ON CONFLICT (issue_slug) DO UPDATE
SET code = excluded.code,
    message = excluded.message,
    last_at = excluded.last_at,
    next_retry_at = excluded.next_retry_at;

-- name: clear
DELETE FROM send_stalls WHERE issue_slug = :issueSlug;

-- name: get
SELECT issue_slug AS "issueSlug", code, message, since, last_at AS "lastAt", next_retry_at AS "nextRetryAt"
FROM send_stalls
WHERE issue_slug = :issueSlug;
