-- One row per cluster of copies (two or more articles with the same text, a declared
-- canonical to another outlet, or the same title in one outlet within 7 days): its origin
-- (earliest published, else earliest seen), how many articles and outlets carried it.
CREATE OR REPLACE VIEW syndication_clusters AS
WITH members AS (
    SELECT c.cluster_id, c.article_id, c.is_origin, a.outlet_id, a.title,
           CASE WHEN a.canonical_url LIKE 'http%' THEN a.canonical_url ELSE a.url END AS url,
           a.published_at, a.first_seen_at, coalesce(o.name, a.outlet_id, '(unknown)') AS outlet
    FROM clusters c
    JOIN articles a USING (article_id)
    LEFT JOIN outlets o USING (outlet_id)
)
SELECT
    m.cluster_id,
    any_value(m.title)  FILTER (WHERE m.is_origin)           AS origin_title,
    any_value(m.outlet) FILTER (WHERE m.is_origin)           AS origin_outlet,
    any_value(m.url)    FILTER (WHERE m.is_origin)           AS origin_url,
    any_value(coalesce(m.published_at, m.first_seen_at)) FILTER (WHERE m.is_origin) AS origin_time,
    count(*)                                                 AS members,
    count(*) - 1                                             AS copies,
    count(DISTINCT coalesce(m.outlet_id, m.article_id))      AS outlets,
    list(DISTINCT m.outlet ORDER BY m.outlet)                AS outlet_names
FROM members m
GROUP BY m.cluster_id
HAVING count(*) > 1
ORDER BY outlets DESC, members DESC, origin_time;
