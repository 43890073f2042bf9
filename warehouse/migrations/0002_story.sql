-- 0002: what newswatch concludes about each article: its relevance to each story, its
-- near-duplicates, and the clusters of copies. Facts stay in 0001's tables; these rows
-- can all be recomputed from them (`newswatch rescore`).

-- A canonical link to another outlet's page: the publisher's own syndication claim.
ALTER TABLE articles ADD COLUMN declared_canonical VARCHAR;
-- NULL until near-duplicate candidates were checked for the article (resumable step).
ALTER TABLE articles ADD COLUMN dedup_at TIMESTAMPTZ;

-- One row per (story, article): the score, the decision and the evidence behind it.
CREATE TABLE story_scores (
    story_id            VARCHAR NOT NULL,
    article_id          VARCHAR NOT NULL,
    score               DOUBLE NOT NULL,
    decision            VARCHAR NOT NULL,      -- relevant, borderline, not
    in_window           BOOLEAN,               -- NULL: the article has no date
    nearest_seed        VARCHAR,
    nearest_similarity  DOUBLE,
    lexical             DOUBLE,
    terms               VARCHAR,               -- JSON: anchor terms and topic groups found
    reasons             VARCHAR,               -- JSON list of short reasons
    method              VARCHAR NOT NULL,
    scored_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (story_id, article_id)
);

-- Confirmed near-duplicate pairs (a < b), with how they were confirmed.
CREATE TABLE dup_links (
    article_a    VARCHAR NOT NULL,
    article_b    VARCHAR NOT NULL,
    relation     VARCHAR NOT NULL,   -- exact, copy, excerpt, canonical (declared), title (same outlet, 7 days)
    jaccard      DOUBLE,
    containment  DOUBLE,
    found_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_a, article_b)
);

-- Clusters of copies, recomputed from dup_links after every run. Every extracted or
-- reference article has a row; a lone article is its own cluster.
CREATE TABLE clusters (
    article_id  VARCHAR PRIMARY KEY,
    cluster_id  VARCHAR NOT NULL,     -- the origin's article_id
    is_origin   BOOLEAN NOT NULL
);
