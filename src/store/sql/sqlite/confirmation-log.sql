-- The log of confirmation emails behind the subscription form's limits. Addresses appear only
-- as the sha256 hex of their lower-cased form, mailboxes (tags folded) likewise.

-- name: history
SELECT count(*) AS count, max(sent_at) AS lastSentAt
FROM confirmation_log
WHERE email_hash = :emailHash AND sent_at > :since;

-- name: latest
SELECT max(sent_at) AS lastSentAt FROM confirmation_log WHERE email_hash = :emailHash;

-- name: mailbox-count
SELECT count(*) AS count FROM confirmation_log WHERE mailbox_hash = :mailboxHash AND sent_at > :since;

-- name: overall-count
-- The rows after :since: whole minutes from the per-minute counts (migration 007), and the
-- rows of :since's own minute from the log. Exactly `count(*) … WHERE sent_at > :since`, in
-- time that does not grow with the hour's traffic. Every minute's rows share its 16-character
-- prefix, and the character after it (':') sorts below ';'.
SELECT
  coalesce((SELECT sum(count) FROM confirmation_log_minutes WHERE minute > substr(:since, 1, 16)), 0)
  + (SELECT count(*) FROM confirmation_log WHERE sent_at > :since AND sent_at < substr(:since, 1, 16) || ';')
  AS count;

-- name: insert
INSERT INTO confirmation_log (email_hash, mailbox_hash, sent_at) VALUES (:emailHash, :mailboxHash, :at);

-- name: prune
DELETE FROM confirmation_log WHERE sent_at < :before;
