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
-- Two index range scans (queued; deferred and due), each bounded by the limit, merged in id
-- order: rows already sent are never walked. A row another sender holds (`sending`) is never
-- claimed here, whatever its lease: an orphan goes back to `queued` first (requeue-orphans).
-- Run inside BEGIN IMMEDIATE, so two senders never pick the same row.
UPDATE deliveries
SET state = 'sending', holder = :holder, lease_until = :leaseUntil, attempts = attempts + 1, updated_at = :now
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
  ORDER BY id
  LIMIT :limit
)
AND state IN ('queued', 'deferred')
RETURNING id;

-- name: list-claimed
-- :ids is a JSON array of delivery ids.
SELECT d.id, d.issue_slug AS issueSlug, d.subscriber_id AS subscriberId, d.state, d.attempts,
       d.holder, d.lease_until AS leaseUntil, d.next_attempt_at AS nextAttemptAt, d.last_reply AS lastReply,
       d.created_at AS createdAt, d.updated_at AS updatedAt,
       s.email AS subscriberEmail, s.name AS subscriberName, s.status AS subscriberStatus,
       s.source AS subscriberSource, s.created_at AS subscriberCreatedAt, s.updated_at AS subscriberUpdatedAt,
       s.confirmed_at AS subscriberConfirmedAt, s.unsubscribed_at AS subscriberUnsubscribedAt
FROM deliveries AS d
JOIN subscribers AS s ON s.id = d.subscriber_id
WHERE d.id IN (SELECT value FROM json_each(:ids))
ORDER BY d.id;

-- name: mark
-- One statement for a batch of outcomes (:marks is a JSON array of {id, state, reply,
-- nextAttemptAt, at}). Compare-and-set: only rows this holder still has `sending` under a live
-- lease change; a row whose lease lapsed may be another sender's by now. Returns the ids marked.
-- Without a new reply the last one is kept, so a row that fails after deferrals still says why.
UPDATE deliveries
SET state = m.state,
    last_reply = COALESCE(m.reply, deliveries.last_reply),
    next_attempt_at = m.nextAttemptAt,
    holder = NULL,
    lease_until = NULL,
    updated_at = m.at
FROM (
  SELECT value ->> '$.id' AS id, value ->> '$.state' AS state, value ->> '$.reply' AS reply,
         value ->> '$.nextAttemptAt' AS nextAttemptAt, value ->> '$.at' AS at
  FROM json_each(:marks)
) AS m
-- Each mark finds its row by id (the unary + keeps SQLite from walking the holder's rows for
-- every mark instead: a batch is a few dozen id lookups, not rows × marks).
WHERE deliveries.id = m.id
  AND deliveries.state = 'sending'
  AND +deliveries.holder = :holder
  AND deliveries.lease_until > :now
RETURNING deliveries.id;

-- name: renew
-- The heartbeat: one statement renews every row the holder has in flight. A lease that already
-- lapsed is not revived: its row is an orphan that any sender may requeue and send.
UPDATE deliveries
SET lease_until = :leaseUntil
WHERE holder = :holder AND state = 'sending' AND lease_until > :now;

-- name: release
-- Hands back what the holder claimed of an issue and did not mark (a session error, a stop):
-- compare-and-set like `mark`, so a holder whose lease lapsed releases nothing.
UPDATE deliveries
SET state = 'queued', holder = NULL, lease_until = NULL, updated_at = :now
WHERE holder = :holder AND issue_slug = :issueSlug AND state = 'sending' AND lease_until > :now;

-- name: requeue-orphans
-- Rows whose holder stopped renewing (it died, or stalled past its lease): any sender may put
-- them back. Never a row under a live lease, which another sender is sending right now.
UPDATE deliveries
SET state = 'queued', holder = NULL, lease_until = NULL, updated_at = :now
WHERE issue_slug = :issueSlug AND state = 'sending' AND lease_until <= :now;

-- name: count-in-flight
-- Rows other senders hold under a live lease, and when the last of those leases ends.
SELECT count(*) AS count, max(lease_until) AS until
FROM deliveries
WHERE issue_slug = :issueSlug AND state = 'sending' AND lease_until > :now;

-- name: next-deferred-at
SELECT min(next_attempt_at) AS nextAttemptAt
FROM deliveries
WHERE issue_slug = :issueSlug AND state = 'deferred';

-- name: list-all
SELECT id, issue_slug AS issueSlug, subscriber_id AS subscriberId, state, attempts,
       holder, lease_until AS leaseUntil, next_attempt_at AS nextAttemptAt, last_reply AS lastReply,
       created_at AS createdAt, updated_at AS updatedAt
FROM deliveries
WHERE issue_slug = :issueSlug AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: list-by-state
SELECT id, issue_slug AS issueSlug, subscriber_id AS subscriberId, state, attempts,
       holder, lease_until AS leaseUntil, next_attempt_at AS nextAttemptAt, last_reply AS lastReply,
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
