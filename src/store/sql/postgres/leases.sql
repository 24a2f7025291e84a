-- Named runner leases: one holder at a time per name.

-- name: acquire
-- Takes the lease when there is none, when it lapsed, or when it is already ours (a renewal),
-- in one statement: two processes racing for a free lease never both get it.
INSERT INTO leases (name, holder, until) VALUES (:name, :holder, :until)
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder, until = excluded.until
WHERE leases.until < :now OR leases.holder = excluded.holder;

-- name: release
DELETE FROM leases WHERE name = :name AND holder = :holder;

-- name: get
SELECT holder, until FROM leases WHERE name = :name;
