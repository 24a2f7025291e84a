-- Whole tables as rows, for `letterpress migrate` (src/store/sqlite-table-access.ts). The
-- statements that name a table or column are built from this catalogue, never from input.

-- name: list-columns
-- Every table with its columns in order and its primary key (`pk` > 0), SQLite's own excluded.
SELECT m.name AS "table", c.name AS "column", c.pk AS pk
FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, c.cid;

-- name: sequence-value
-- The highest id an AUTOINCREMENT table ever handed out (erased rows included); none for others.
SELECT seq FROM sqlite_sequence WHERE name = :table;

-- name: is-autoincrement
SELECT count(*) AS present FROM sqlite_master WHERE type = 'table' AND name = :table AND sql LIKE '%AUTOINCREMENT%';

-- name: raise-sequence
-- Never lowers it: an id once handed out (and maybe in a sent token) is never handed out again.
UPDATE sqlite_sequence SET seq = :value WHERE name = :table AND seq < :value;

-- name: insert-sequence
INSERT INTO sqlite_sequence (name, seq) SELECT :table, :value WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :table);

-- name: count-delivery-states
SELECT issue_slug AS "issueSlug", state, count(*) AS count FROM deliveries GROUP BY issue_slug, state ORDER BY issue_slug, state;

-- name: live-leases
-- Named leases still held at :now (a running daemon, scheduler or archive job).
SELECT name, holder, until FROM leases WHERE until > :now ORDER BY name;

-- name: live-deliveries
-- Rows a sender has in flight under a live lease, per issue.
SELECT issue_slug AS "issueSlug", count(*) AS count, max(lease_until) AS until
FROM deliveries WHERE state = 'sending' AND lease_until > :now
GROUP BY issue_slug ORDER BY issue_slug;

-- name: lapsed-deliveries
-- Rows left `sending` by a sender that stopped renewing: orphans any later sender requeues.
SELECT issue_slug AS "issueSlug", count(*) AS count, max(lease_until) AS until
FROM deliveries WHERE state = 'sending' AND (lease_until IS NULL OR lease_until <= :now)
GROUP BY issue_slug ORDER BY issue_slug;

-- name: live-outgoing-mail
SELECT count(*) AS count, max(lease_until) AS until FROM outgoing_mail WHERE state = 'sending' AND lease_until > :now;
