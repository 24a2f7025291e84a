-- The log of confirmation emails behind the subscription form's per-address limits. Addresses
-- appear only as the sha256 hex of their lower-cased form.

-- name: history
SELECT count(*) AS count, max(sent_at) AS lastSentAt
FROM confirmation_log
WHERE email_hash = :emailHash AND sent_at > :since;

-- name: latest
SELECT max(sent_at) AS lastSentAt FROM confirmation_log WHERE email_hash = :emailHash;

-- name: insert
INSERT INTO confirmation_log (email_hash, sent_at) VALUES (:emailHash, :at);

-- name: prune
DELETE FROM confirmation_log WHERE sent_at < :before;
