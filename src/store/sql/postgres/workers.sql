-- The senders' heartbeats (table workers) (see migrations/002-workers-rate-holds.sql).

-- name: beat
INSERT INTO workers (holder, host, pid, role, started_at, heartbeat_at, in_flight, sent_total, rate)
VALUES (:holder, :host, :pid, :role, :startedAt, :at, :inFlight, :sentTotal, :rate)
ON CONFLICT (holder) DO UPDATE
SET role = excluded.role,
    heartbeat_at = excluded.heartbeat_at,
    in_flight = excluded.in_flight,
    sent_total = excluded.sent_total,
    rate = excluded.rate;

-- name: remove
DELETE FROM workers WHERE holder = :holder;

-- name: prune
DELETE FROM workers WHERE heartbeat_at < :before;

-- name: list-live
SELECT holder, host, pid, role, started_at AS "startedAt", heartbeat_at AS "heartbeatAt",
       in_flight AS "inFlight", sent_total AS "sentTotal", rate
FROM workers
WHERE heartbeat_at >= :since
ORDER BY started_at, holder;
