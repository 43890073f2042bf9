-- One row per (outlet, channel): a source (feed, search, sitemap or page) that listed at
-- least one of the outlet's articles, and how it compares with the outlet's other
-- channels. `found_first` counts the outlet's articles this channel saw no later than any
-- other channel did (sightings of one run share that run's time, so a tie counts for
-- each); `lag_avg_seconds` / `lag_max_seconds` say how long after the first channel this
-- one saw the same articles; `behind_outlet_first` is the time from the outlet's first
-- sighting by any channel to this channel's first; `channel_rank` 1 is the channel that
-- found the outlet's coverage first. Merged aggregator placeholders count as the article
-- they were merged into.
CREATE OR REPLACE VIEW discovery_channels AS
WITH seen AS (
    SELECT
        a.outlet_id,
        s.article_id,
        s.source_id,
        coalesce(src.kind, 'unknown')    AS channel,
        min(s.first_seen_at)             AS seen_at
    FROM sightings s
    JOIN articles a USING (article_id)
    LEFT JOIN sources src USING (source_id)
    WHERE a.status <> 'merged'
    GROUP BY ALL
), timed AS (
    SELECT
        *,
        min(seen_at) OVER (PARTITION BY article_id) AS article_first,
        min(seen_at) OVER (PARTITION BY outlet_id)  AS outlet_first
    FROM seen
)
SELECT
    coalesce(o.name, t.outlet_id, '(unknown)')                       AS outlet,
    t.outlet_id,
    t.channel,
    t.source_id,
    count(*)                                                          AS articles,
    count(*) FILTER (WHERE t.seen_at = t.article_first)               AS found_first,
    min(t.seen_at)                                                    AS first_sighting,
    min(t.seen_at) - min(t.outlet_first)                              AS behind_outlet_first,
    round(avg(epoch(t.seen_at) - epoch(t.article_first)), 3)          AS lag_avg_seconds,
    round(max(epoch(t.seen_at) - epoch(t.article_first)), 3)          AS lag_max_seconds,
    dense_rank() OVER (PARTITION BY t.outlet_id ORDER BY min(t.seen_at)) AS channel_rank
FROM timed t
LEFT JOIN outlets o USING (outlet_id)
GROUP BY o.name, t.outlet_id, t.channel, t.source_id
ORDER BY outlet, channel_rank, t.source_id;
