-- One row per story and outlet: original articles it published on the story, copies of
-- other outlets' articles it carried, and when newswatch first saw it cover the story.
-- Off-topic articles, articles outside the window and borderline ones are not counted.
CREATE OR REPLACE VIEW story_coverage_by_outlet AS
SELECT
    story_id,
    outlet,
    outlet_id,
    count(*) FILTER (WHERE NOT is_copy)   AS original_articles,
    count(*) FILTER (WHERE is_copy)       AS copies_carried,
    min(published_at)                     AS first_published,
    min(first_seen_at)                    AS first_seen
FROM story_articles
GROUP BY ALL
ORDER BY story_id, original_articles DESC, copies_carried DESC, outlet;
