-- The global rate limit's slots (see migrations/002-workers-rate-holds.sql).

-- name: reserve
-- Takes `count` slots `intervalMs` apart starting at the later of now and the next free slot,
-- in one statement (the row lock orders racing senders); returns where the free slots start
-- afterwards. After an idle spell the slots start at now: no burst is saved up.
INSERT INTO rate_slots (name, next_at_ms)
VALUES (:name, CAST(:nowMs AS double precision) + CAST(:count AS double precision) * CAST(:intervalMs AS double precision))
ON CONFLICT (name) DO UPDATE
SET next_at_ms = GREATEST(rate_slots.next_at_ms, CAST(:nowMs AS double precision))
               + CAST(:count AS double precision) * CAST(:intervalMs AS double precision)
RETURNING next_at_ms AS "nextAtMs";
