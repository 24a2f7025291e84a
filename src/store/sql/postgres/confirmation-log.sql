-- The log of confirmation emails behind the subscription form's limits. Addresses appear only
-- as the sha256 hex of their lower-cased form, mailboxes (tags folded) likewise.

-- name: history
SELECT count(*) AS count, max(sent_at) AS "lastSentAt"
FROM confirmation_log
WHERE email_hash = :emailHash AND sent_at > :since;

-- name: latest
SELECT max(sent_at) AS "lastSentAt" FROM confirmation_log WHERE email_hash = :emailHash;

-- name: mailbox-count
SELECT count(*) AS count FROM confirmation_log WHERE mailbox_hash = :mailboxHash AND sent_at > :since;

-- name: overall-count
SELECT count(*) AS count FROM confirmation_log WHERE sent_at > :since;

-- name: insert
INSERT INTO confirmation_log (email_hash, mailbox_hash, sent_at) VALUES (:emailHash, :mailboxHash, :at);

-- name: prune
DELETE FROM confirmation_log WHERE sent_at < :before;
