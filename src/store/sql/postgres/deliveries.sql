-- The delivery ledger. Every SELECT returns `Delivery` field names.

-- name: plan-chunk
-- One bounded id range of the active subscribers, planned set-based in one statement: the
-- range's last id (NULL once none is left) and how many rows it created. A second planning
-- of the issue, by this process or another, adds nothing (the UNIQUE key). Rows are added only
-- for an issue that exists, inside a transaction holding lock-ledger-shared (the ledger has no
-- foreign keys, see the migration).
-- The range is walked in index order, so rows get ids in subscriber order without a sort.
WITH chunk AS (
  SELECT max(id) AS last_id
  FROM (SELECT id FROM subscribers WHERE status = 'active' AND id > :afterId ORDER BY id LIMIT :limit) AS ids
), planned AS (
  INSERT INTO deliveries (issue_slug, subscriber_id, state, attempts, created_at, updated_at)
  SELECT :issueSlug::text, s.id, 'queued', 0, :at::text, :at::text
  FROM chunk JOIN subscribers AS s ON s.status = 'active' AND s.id > :afterId AND s.id <= chunk.last_id
  WHERE EXISTS (SELECT 1 FROM issues WHERE slug = :issueSlug::text)
  ORDER BY s.id
  ON CONFLICT (subscriber_id, issue_slug) DO NOTHING
  RETURNING 1
)
SELECT (SELECT last_id FROM chunk) AS "lastId", (SELECT count(*) FROM planned) AS created;

-- name: claim
-- Two index range scans (queued; deferred and due), each bounded by the limit and locking what
-- it finds with SKIP LOCKED: a row another claimer is taking right now is passed over, not
-- waited for, so any number of senders claim disjoint batches at once. Read committed re-checks
-- each locked row's state, so a row claimed meanwhile is never taken twice. A row `sending`
-- under any lease is never claimed here: an orphan goes back to `queued` first.
WITH queued AS (
  SELECT id FROM deliveries WHERE issue_slug = :issueSlug AND state = 'queued'
  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), due AS (
  SELECT id FROM deliveries WHERE issue_slug = :issueSlug AND state = 'deferred' AND next_attempt_at <= :now
  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id FROM (SELECT id FROM queued UNION ALL SELECT id FROM due) AS candidates ORDER BY id LIMIT :limit
), claimed AS (
  UPDATE deliveries AS d
  SET state = 'sending', holder = :holder, lease_until = :leaseUntil, attempts = d.attempts + 1, updated_at = :now
  FROM picked
  WHERE d.id = picked.id AND d.state IN ('queued', 'deferred')
  RETURNING d.*
)
SELECT c.id, c.issue_slug AS "issueSlug", c.subscriber_id AS "subscriberId", c.state, c.attempts,
       c.holder, c.lease_until AS "leaseUntil", c.next_attempt_at AS "nextAttemptAt", c.last_reply AS "lastReply",
       c.created_at AS "createdAt", c.updated_at AS "updatedAt",
       s.email AS "subscriberEmail", s.name AS "subscriberName", s.status AS "subscriberStatus",
       s.source AS "subscriberSource", s.created_at AS "subscriberCreatedAt", s.updated_at AS "subscriberUpdatedAt",
       s.confirmed_at AS "subscriberConfirmedAt", s.unsubscribed_at AS "subscriberUnsubscribedAt"
FROM claimed AS c
JOIN subscribers AS s ON s.id = c.subscriber_id
ORDER BY c.id;

-- name: mark
-- One statement for a batch of outcomes (:marks is a JSON array of {id, state, reply,
-- nextAttemptAt, at}). Compare-and-set: only rows this holder still has `sending` under a live
-- lease change; a row whose lease lapsed may be another sender's by now. Returns the ids marked.
-- Without a new reply the last one is kept, so a row that fails after deferrals still says why.
UPDATE deliveries AS d
SET state = m.state,
    last_reply = COALESCE(m.reply, d.last_reply),
    next_attempt_at = m."nextAttemptAt",
    holder = NULL,
    lease_until = NULL,
    updated_at = m.at
FROM jsonb_to_recordset(:marks::jsonb) AS m (id bigint, state text, reply text, "nextAttemptAt" text, at text)
WHERE d.id = m.id
  AND d.state = 'sending'
  AND d.holder = :holder
  AND d.lease_until > :now
RETURNING d.id;

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
SELECT min(next_attempt_at) AS "nextAttemptAt"
FROM deliveries
WHERE issue_slug = :issueSlug AND state = 'deferred';

-- name: list-all
SELECT id, issue_slug AS "issueSlug", subscriber_id AS "subscriberId", state, attempts,
       holder, lease_until AS "leaseUntil", next_attempt_at AS "nextAttemptAt", last_reply AS "lastReply",
       created_at AS "createdAt", updated_at AS "updatedAt"
FROM deliveries
WHERE issue_slug = :issueSlug AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: list-by-state
SELECT id, issue_slug AS "issueSlug", subscriber_id AS "subscriberId", state, attempts,
       holder, lease_until AS "leaseUntil", next_attempt_at AS "nextAttemptAt", last_reply AS "lastReply",
       created_at AS "createdAt", updated_at AS "updatedAt"
FROM deliveries
WHERE issue_slug = :issueSlug AND state = :state AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: delete-planned
-- Takes back the rows nothing happened to yet. Deleting locks them, so a claimer racing this
-- passes them over (SKIP LOCKED), and a row it claimed first stays and refuses the unplan.
DELETE FROM deliveries WHERE issue_slug = :issueSlug AND state = 'queued' AND attempts = 0;

-- name: count-unplannable
-- Rows that make an issue impossible to unplan: anything claimed, attempted or finished.
SELECT count(*) AS count
FROM deliveries
WHERE issue_slug = :issueSlug AND (state <> 'queued' OR attempts > 0);

-- name: delete-by-subscriber
-- An erasure takes the subscriber's rows with it (see the migration: no cascade here).
DELETE FROM deliveries WHERE subscriber_id = :subscriberId;

-- name: count-by-state
SELECT state, count(*) AS count
FROM deliveries
WHERE issue_slug = :issueSlug
GROUP BY state;
