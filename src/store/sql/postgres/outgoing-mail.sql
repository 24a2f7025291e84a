-- The outgoing-mail queue of the subscription flow (see migrations/001-initial.sql).

-- name: insert
INSERT INTO outgoing_mail (kind, subscriber_id, state, attempts, next_attempt_at, created_at, updated_at)
VALUES (:kind, :subscriberId, 'queued', 0, :at::text, :at::text, :at::text)
RETURNING id;

-- name: claim
-- Queued rows that are due, and rows a dead sender left `sending` (lease lapsed), oldest first.
-- SKIP LOCKED: every serving process runs a sender loop, and two never take one row.
WITH due AS (
  SELECT id FROM outgoing_mail WHERE state = 'queued' AND next_attempt_at <= :now
  ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED
), lapsed AS (
  SELECT id FROM outgoing_mail WHERE state = 'sending' AND lease_until < :now
  ORDER BY lease_until, id LIMIT :limit FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id FROM due UNION ALL SELECT id FROM lapsed LIMIT :limit
), claimed AS (
  UPDATE outgoing_mail AS m
  SET state = 'sending', lease_holder = :holder, lease_until = :leaseUntil, attempts = m.attempts + 1, updated_at = :now
  FROM picked
  WHERE m.id = picked.id
  RETURNING m.*
)
SELECT m.id, m.kind, m.subscriber_id AS "subscriberId", m.state, m.attempts, m.next_attempt_at AS "nextAttemptAt",
       m.lease_holder AS "leaseHolder", m.lease_until AS "leaseUntil", m.last_reply AS "lastReply",
       m.created_at AS "createdAt", m.updated_at AS "updatedAt",
       s.email AS "subscriberEmail", s.name AS "subscriberName", s.status AS "subscriberStatus", s.source AS "subscriberSource",
       s.created_at AS "subscriberCreatedAt", s.updated_at AS "subscriberUpdatedAt",
       s.confirmed_at AS "subscriberConfirmedAt", s.unsubscribed_at AS "subscriberUnsubscribedAt"
FROM claimed AS m JOIN subscribers AS s ON s.id = m.subscriber_id
ORDER BY m.id;

-- name: finish
-- Only the holder records the outcome: a sender that lost its row to another (its lease
-- lapsed) must not overwrite what the other one did.
UPDATE outgoing_mail
SET state = :state, next_attempt_at = :nextAttemptAt, last_reply = :reply,
    lease_holder = NULL, lease_until = NULL, updated_at = :at
WHERE id = :id AND state = 'sending' AND lease_holder = :holder;

-- name: next-due
SELECT min(due) AS due FROM (
  SELECT min(next_attempt_at) AS due FROM outgoing_mail WHERE state = 'queued'
  UNION ALL
  SELECT min(lease_until) AS due FROM outgoing_mail WHERE state = 'sending'
) AS dates;

-- name: list
SELECT id, kind, subscriber_id AS "subscriberId", state, attempts, next_attempt_at AS "nextAttemptAt",
       lease_holder AS "leaseHolder", lease_until AS "leaseUntil", last_reply AS "lastReply",
       created_at AS "createdAt", updated_at AS "updatedAt"
FROM outgoing_mail
ORDER BY id;

-- name: prune
DELETE FROM outgoing_mail WHERE state IN ('sent', 'failed', 'skipped') AND updated_at < :before;
