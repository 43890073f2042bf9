-- One row per outlet: how many articles it published (pages read and reference articles
-- alike; a page that could not be read is counted only by the story views, and only when
-- its feed snippet is about the story), its first and last publication time (where pages state one) and when
-- newswatch first saw it.
-- Articles of finished backfill files count before they are loaded (all_articles).
CREATE OR REPLACE VIEW coverage_by_outlet AS
SELECT
    coalesce(o.name, a.outlet_id, '(unknown)')      AS outlet,
    a.outlet_id,
    count(*)                                         AS articles,
    min(a.published_at)                              AS first_published,
    max(a.published_at)                              AS last_published,
    min(a.first_seen_at)                             AS first_seen
FROM all_articles a
LEFT JOIN outlets o USING (outlet_id)
WHERE a.status IN ('extracted', 'reference')
GROUP BY ALL
ORDER BY articles DESC, outlet;
