-- Renditions: what an issue's messages are made of. Every SELECT returns `StoredRendition` field names.

-- name: get
SELECT issue_slug AS "issueSlug", render_key AS "renderKey", subject, preheader, html, text, publish_at AS "publishAt",
       site_url AS "siteUrl", from_name AS "fromName", from_address AS "fromAddress", reply_to AS "replyTo",
       envelope_from AS "envelopeFrom", list_id AS "listId", unsubscribe_mailto AS "unsubscribeMailto",
       created_at AS "createdAt", updated_at AS "updatedAt"
FROM renditions
WHERE issue_slug = :issueSlug;

-- name: save
-- One statement decides, so a sender moving the issue to `sending` and a build re-rendering it
-- can never interleave: a missing rendition is always stored; an existing one is replaced only
-- under another render key and only while the issue is still `planned` (or waiting to be
-- planned, or archived), never mid-send.
INSERT INTO renditions (issue_slug, render_key, subject, preheader, html, text, publish_at, site_url, from_name,
                        from_address, reply_to, envelope_from, list_id, unsubscribe_mailto, created_at, updated_at)
VALUES (:issueSlug, :renderKey, :subject, :preheader, :html, :text, :publishAt, :siteUrl, :fromName,
        :fromAddress, :replyTo, :envelopeFrom, :listId, :unsubscribeMailto, :at::text, :at::text)
ON CONFLICT (issue_slug) DO UPDATE
SET render_key = excluded.render_key,
    subject = excluded.subject,
    preheader = excluded.preheader,
    html = excluded.html,
    text = excluded.text,
    publish_at = excluded.publish_at,
    site_url = excluded.site_url,
    from_name = excluded.from_name,
    from_address = excluded.from_address,
    reply_to = excluded.reply_to,
    envelope_from = excluded.envelope_from,
    list_id = excluded.list_id,
    unsubscribe_mailto = excluded.unsubscribe_mailto,
    updated_at = excluded.updated_at
WHERE renditions.render_key <> excluded.render_key
  AND (SELECT state FROM issues WHERE slug = excluded.issue_slug) IN ('published', 'planned', 'archived');
