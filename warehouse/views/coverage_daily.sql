-- One row per day (UTC) and outlet: articles published that day (first seen when the
-- page gave no date).
-- Articles of finished backfill files count before they are loaded (all_articles).
CREATE OR REPLACE VIEW coverage_daily AS
SELECT
    CAST(timezone('UTC', coalesce(a.published_at, a.first_seen_at)) AS DATE) AS day,
    coalesce(o.name, a.outlet_id, '(unknown)')                              AS outlet,
    a.outlet_id,
    count(*)                                                                AS articles
FROM all_articles a
LEFT JOIN outlets o USING (outlet_id)
WHERE a.status IN ('extracted', 'reference')
GROUP BY ALL
ORDER BY day, outlet;
