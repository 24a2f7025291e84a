-- Whole tables as rows, for `letterpress migrate` (src/store/postgres-table-access.ts). The
-- statements that name a table or column are built from this catalogue, never from input.

-- name: list-columns
-- Every table of the current schema with its columns in order and whether each is in the primary key.
SELECT t.relname AS "table", a.attname AS "column", COALESCE(a.attnum = ANY (i.indkey), false) AS pk
FROM pg_class AS t
JOIN pg_namespace AS n ON n.oid = t.relnamespace AND n.nspname = current_schema()
JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index AS i ON i.indrelid = t.oid AND i.indisprimary
WHERE t.relkind IN ('r', 'p')
ORDER BY t.relname, a.attnum;

-- name: sequence-value
-- The last id the column's identity sequence handed out (erased rows included); 0 when none was
-- (a copy inserts its ids itself and leaves the sequence where it was).
SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence(:table, :column)::regclass), 0) AS seq,
       pg_get_serial_sequence(:table, :column) IS NOT NULL AS present;

-- name: raise-sequence
-- Sets the sequence so the next id is :value + 1. The caller raises only, never lowers.
SELECT setval(pg_get_serial_sequence(:table, :column), :value::bigint);

-- name: count-delivery-states
SELECT issue_slug AS "issueSlug", state, count(*) AS count FROM deliveries GROUP BY issue_slug, state ORDER BY issue_slug, state;

-- name: live-leases
SELECT name, holder, until FROM leases WHERE until > :now ORDER BY name;

-- name: live-deliveries
SELECT issue_slug AS "issueSlug", count(*) AS count, max(lease_until) AS until
FROM deliveries WHERE state = 'sending' AND lease_until > :now
GROUP BY issue_slug ORDER BY issue_slug;

-- name: lapsed-deliveries
SELECT issue_slug AS "issueSlug", count(*) AS count, max(lease_until) AS until
FROM deliveries WHERE state = 'sending' AND (lease_until IS NULL OR lease_until <= :now)
GROUP BY issue_slug ORDER BY issue_slug;

-- name: live-outgoing-mail
SELECT count(*) AS count, max(lease_until) AS until FROM outgoing_mail WHERE state = 'sending' AND lease_until > :now;
