-- The delivery ledger. Every SELECT returns `Delivery` field names.

-- name: plan-chunk-end
-- The last active subscriber id of the next chunk, so each chunk is a bounded id range.
SELECT max(id) AS lastId
FROM (SELECT id FROM subscribers WHERE status = 'active' AND id > :afterId ORDER BY id LIMIT :limit);

-- name: plan-chunk
INSERT INTO deliveries (issue_slug, subscriber_id, state, attempts, created_at, updated_at)
SELECT :issueSlug, id, 'queued', 0, :at, :at
FROM subscribers
WHERE status = 'active' AND id > :afterId AND id <= :lastId
ORDER BY id
ON CONFLICT (issue_slug, subscriber_id) DO NOTHING;

-- name: claim
-- Three index range scans (queued; deferred and due; sending with a lapsed lease), each
-- bounded by the limit, merged in id order: rows already sent are never walked.
UPDATE deliveries
SET state = 'sending', lease_until = :leaseUntil, attempts = attempts + 1, updated_at = :now
WHERE id IN (
  SELECT id FROM (
    SELECT id FROM deliveries WHERE issue_slug = :issueSlug AND state = 'queued' ORDER BY id LIMIT :limit
  )
  UNION ALL
  SELECT id FROM (
    SELECT id FROM deliveries
    WHERE issue_slug = :issueSlug AND state = 'deferred' AND next_attempt_at <= :now
    ORDER BY id LIMIT :limit
  )
  UNION ALL
  SELECT id FROM (
    SELECT id FROM deliveries
    WHERE issue_slug = :issueSlug AND state = 'sending' AND lease_until < :now
    ORDER BY id LIMIT :limit
  )
  ORDER BY id
  LIMIT :limit
)
RETURNING id;

-- name: list-claimed
-- :ids is a JSON array of delivery ids.
SELECT d.id, d.issue_slug AS issueSlug, d.subscriber_id AS subscriberId, d.state, d.attempts,
       d.lease_until AS leaseUntil, d.next_attempt_at AS nextAttemptAt, d.last_reply AS lastReply,
       d.created_at AS createdAt, d.updated_at AS updatedAt,
       s.email AS subscriberEmail, s.name AS subscriberName, s.status AS subscriberStatus,
       s.source AS subscriberSource, s.created_at AS subscriberCreatedAt, s.updated_at AS subscriberUpdatedAt,
       s.confirmed_at AS subscriberConfirmedAt, s.unsubscribed_at AS subscriberUnsubscribedAt
FROM deliveries AS d
JOIN subscribers AS s ON s.id = d.subscriber_id
WHERE d.id IN (SELECT value FROM json_each(:ids))
ORDER BY d.id;

-- name: mark
-- Without a new reply the last one is kept, so a row that fails after deferrals still says why.
UPDATE deliveries
SET state = :state,
    last_reply = COALESCE(:reply, last_reply),
    next_attempt_at = :nextAttemptAt,
    lease_until = NULL,
    updated_at = :at
WHERE id = :id;

-- name: release
-- :ids is a JSON array of delivery ids; rows no longer `sending` are left alone.
UPDATE deliveries
SET state = 'queued', lease_until = NULL, updated_at = :at
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'sending';

-- name: requeue-sending
UPDATE deliveries
SET state = 'queued', lease_until = NULL, updated_at = :at
WHERE issue_slug = :issueSlug AND state = 'sending';

-- name: next-deferred-at
SELECT min(next_attempt_at) AS nextAttemptAt
FROM deliveries
WHERE issue_slug = :issueSlug AND state = 'deferred';

-- name: list-all
SELECT id, issue_slug AS issueSlug, subscriber_id AS subscriberId, state, attempts,
       lease_until AS leaseUntil, next_attempt_at AS nextAttemptAt, last_reply AS lastReply,
       created_at AS createdAt, updated_at AS updatedAt
FROM deliveries
WHERE issue_slug = :issueSlug AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: list-by-state
SELECT id, issue_slug AS issueSlug, subscriber_id AS subscriberId, state, attempts,
       lease_until AS leaseUntil, next_attempt_at AS nextAttemptAt, last_reply AS lastReply,
       created_at AS createdAt, updated_at AS updatedAt
FROM deliveries
WHERE issue_slug = :issueSlug AND state = :state AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: count-unplannable
-- Rows that make an issue impossible to unplan: anything claimed, attempted or finished.
SELECT count(*) AS count
FROM deliveries
WHERE issue_slug = :issueSlug AND (state <> 'queued' OR attempts > 0);

-- name: delete-planned
DELETE FROM deliveries WHERE issue_slug = :issueSlug AND state = 'queued' AND attempts = 0;

-- name: count-by-state
SELECT state, count(*) AS count
FROM deliveries
WHERE issue_slug = :issueSlug
GROUP BY state;
