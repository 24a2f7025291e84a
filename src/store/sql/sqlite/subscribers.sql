-- Subscribers and the suppression list of erased addresses. Every SELECT returns the
-- columns under their `Subscriber` field names, so rows need no mapping.

-- name: get-by-id
SELECT id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
       confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt
FROM subscribers
WHERE id = :id;

-- name: get-many-by-id
-- :ids is a JSON array of ids; ids that do not exist are left out.
SELECT id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
       confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt
FROM subscribers
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: get-by-key
SELECT id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
       confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt
FROM subscribers
WHERE email_key = :emailKey;

-- name: insert
INSERT INTO subscribers (email, email_key, name, status, source, created_at, updated_at, confirmed_at, unsubscribed_at)
VALUES (:email, :emailKey, :name, :status, :source, :at, :at,
        CASE WHEN :status = 'active' THEN :at END,
        CASE WHEN :status = 'unsubscribed' THEN :at END)
RETURNING id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
          confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt;

-- name: update-details
-- Right-hand sides see the old row, so `status <> 'active'` means "was not active before".
UPDATE subscribers
SET name = :name,
    status = :status,
    updated_at = :at,
    confirmed_at = CASE WHEN :status = 'active' AND status <> 'active' THEN :at ELSE confirmed_at END,
    unsubscribed_at = CASE WHEN :status = 'unsubscribed' AND status <> 'unsubscribed' THEN :at ELSE unsubscribed_at END
WHERE id = :id
RETURNING id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
          confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt;

-- name: set-status
UPDATE subscribers
SET status = :status,
    updated_at = :at,
    confirmed_at = CASE WHEN :status = 'active' THEN :at ELSE confirmed_at END,
    unsubscribed_at = CASE WHEN :status = 'unsubscribed' THEN :at ELSE unsubscribed_at END
WHERE id = :id AND status <> :status;

-- name: list-all
SELECT id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
       confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt
FROM subscribers
WHERE id > :afterId
ORDER BY id
LIMIT :limit;

-- name: list-by-status
SELECT id, email, name, status, source, created_at AS createdAt, updated_at AS updatedAt,
       confirmed_at AS confirmedAt, unsubscribed_at AS unsubscribedAt
FROM subscribers
WHERE status = :status AND id > :afterId
ORDER BY id
LIMIT :limit;

-- name: count-all
SELECT count(*) AS count FROM subscribers;

-- name: count-by-status
SELECT count(*) AS count FROM subscribers WHERE status = :status;

-- name: delete-by-id
-- The subscriber's delivery rows go with it (ON DELETE CASCADE).
DELETE FROM subscribers WHERE id = :id;

-- name: get-suppression
SELECT created_at AS createdAt FROM suppressions WHERE email_hash = :emailHash;

-- name: insert-suppression
INSERT INTO suppressions (email_hash, created_at) VALUES (:emailHash, :at)
ON CONFLICT (email_hash) DO NOTHING;

-- name: delete-suppression
DELETE FROM suppressions WHERE email_hash = :emailHash;
