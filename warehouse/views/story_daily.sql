-- One row per story and day (UTC; the day first seen when the page gave no date;
-- undated reference articles are left out):
-- original articles and copies published that day, and how many outlets carried them.
CREATE OR REPLACE VIEW story_daily AS
SELECT
    story_id,
    CAST(timezone('UTC', event_at) AS DATE) AS day,
    count(*) FILTER (WHERE NOT is_copy)   AS original_articles,
    count(*) FILTER (WHERE is_copy)       AS copies,
    count(DISTINCT outlet_id)             AS outlets
FROM story_articles
WHERE event_at IS NOT NULL
GROUP BY ALL
ORDER BY story_id, day;
