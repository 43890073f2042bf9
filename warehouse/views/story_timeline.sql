-- One row per story and outlet that covered it: when the outlet first published (or was
-- first seen with) an article on the story, its rank, and how long after the first
-- outlet it followed. Copies count: carrying a wire copy is covering the story.
CREATE OR REPLACE VIEW story_timeline AS
WITH firsts AS (
    SELECT story_id, outlet, outlet_id,
           min(event_at)                            AS first_at,
           arg_min(title, event_at)                 AS first_title,
           bool_and(is_copy)                                                     AS only_copies
    FROM story_articles
    WHERE event_at IS NOT NULL
    GROUP BY ALL
)
SELECT
    story_id,
    rank() OVER (PARTITION BY story_id ORDER BY first_at)                        AS rank,
    outlet,
    outlet_id,
    first_at,
    first_at - min(first_at) OVER (PARTITION BY story_id)                        AS after_first,
    first_title,
    only_copies
FROM firsts
ORDER BY story_id, first_at, outlet;
