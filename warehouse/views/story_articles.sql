-- One row per (story, article) counted for the story: decided relevant (inside the story's
-- window or undated), extracted or a reference article, with its cluster of copies and
-- whether it is the cluster's origin or a copy of it. `event_at` is when it appeared: its
-- publication time, else when newswatch first saw it; NULL for an undated reference
-- article (loading the seeds says nothing about when they were published). Reference
-- articles of unknown outlet are left out: they are the story's yardstick, not coverage.
-- An article whose page newswatch could not read (`resolved` false: an aggregator link
-- it cannot follow, a paywall, a 404, robots.txt) is scored on the title and snippet its
-- feed gave and counts at its outlet (the aggregator's named publisher), until the page
-- is read or the item is merged into the page found by another channel.
CREATE OR REPLACE VIEW story_articles AS
SELECT
    s.story_id,
    a.article_id,
    s.decision,
    s.score,
    a.outlet_id,
    coalesce(o.name, a.outlet_id, '(unknown)')        AS outlet,
    a.title,
    -- the clean canonical URL for people to follow; the fetched URL when there is none
    CASE WHEN a.canonical_url LIKE 'http%' THEN a.canonical_url ELSE a.url END AS url,
    a.published_at,
    a.first_seen_at,
    coalesce(a.published_at, CASE WHEN a.is_reference THEN NULL ELSE a.first_seen_at END) AS event_at,
    a.is_reference,
    a.status IN ('extracted', 'reference')             AS resolved,
    coalesce(c.cluster_id, a.article_id)               AS cluster_id,
    NOT coalesce(c.is_origin, TRUE)                    AS is_copy
FROM story_scores s
JOIN articles a USING (article_id)
LEFT JOIN outlets o USING (outlet_id)
LEFT JOIN clusters c USING (article_id)
WHERE s.decision = 'relevant'
  AND a.status IN ('extracted', 'reference', 'unresolved', 'failed')
  AND (a.outlet_id IS NOT NULL OR NOT a.is_reference);
