-- One row per story, outlet and day (UTC): the outlet's story articles over all articles
-- newswatch saw from that outlet that day, so a busy outlet's coverage compares with a
-- small one's (articles waiting in backfill shards count in the outlet's total).
-- Reference articles are left out of both counts.
CREATE OR REPLACE VIEW story_share_by_outlet AS
WITH seen AS (
    SELECT outlet_id,
           CAST(timezone('UTC', coalesce(published_at, first_seen_at)) AS DATE) AS day,
           count(*) AS all_articles
    FROM all_articles
    WHERE status IN ('extracted', 'unresolved', 'failed') AND outlet_id IS NOT NULL
    GROUP BY ALL
), story AS (
    SELECT story_id, outlet_id, any_value(outlet) AS outlet,
           CAST(timezone('UTC', event_at) AS DATE) AS day,
           count(*) AS story_articles
    FROM story_articles
    WHERE NOT is_reference AND outlet_id IS NOT NULL
    GROUP BY story_id, outlet_id, day
)
SELECT s.story_id, s.outlet, s.outlet_id, s.day, s.story_articles, seen.all_articles,
       round(s.story_articles / seen.all_articles, 3) AS share
FROM story s
JOIN seen USING (outlet_id, day)
ORDER BY s.story_id, s.day, share DESC;
