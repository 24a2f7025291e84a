-- The global rate limit's slots (see migrations/007-workers-rate-holds.sql).

-- name: reserve
-- Takes `count` slots `intervalMs` apart starting at the later of now and the next free slot,
-- in one statement; returns where the free slots start afterwards (the caller's are the
-- `count` before it). After an idle spell the slots start at now: no burst is saved up.
INSERT INTO rate_slots (name, next_at_ms) VALUES (:name, :nowMs + :count * :intervalMs)
ON CONFLICT (name) DO UPDATE
SET next_at_ms = MAX(rate_slots.next_at_ms, :nowMs) + :count * :intervalMs
RETURNING next_at_ms AS nextAtMs;
