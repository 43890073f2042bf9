-- 0012: near-duplicate lookups and cluster updates that stay flat as the warehouse grows
-- (issue 12). DuckDB only answers a lookup from an ART index when the filter covers the
-- whole key, so the (band_key, article_id) primary key never served a band lookup and
-- every candidate query scanned the band table. Single-column indexes fix that.

-- LSH band keys, rebuilt without the composite primary key (the writer deletes an
-- article's keys before inserting them, so pairs stay unique) and indexed by key.
CREATE TABLE lsh_bands_0012 (
    band_key    BIGINT NOT NULL,
    article_id  VARCHAR NOT NULL
);
INSERT INTO lsh_bands_0012 SELECT band_key, article_id FROM lsh_bands;
DROP TABLE lsh_bands;
ALTER TABLE lsh_bands_0012 RENAME TO lsh_bands;
CREATE INDEX lsh_bands_key ON lsh_bands (band_key);

-- Exact copies are found by content hash.
CREATE INDEX articles_content_hash ON articles (content_hash);

-- Media Cloud's title rule as a keyed lookup: one row per extracted article with an
-- outlet and a title of 4+ normalized words; title_key hashes (outlet, normalized title).
-- Derived from articles (rebuilt by `rescore --duplicates`); candidates found here are
-- checked again against the article row itself.
CREATE TABLE title_keys (
    article_id  VARCHAR PRIMARY KEY,
    title_key   BIGINT NOT NULL
);
CREATE INDEX title_keys_key ON title_keys (title_key);

-- Incremental clusters: articles checked whose clusters were not recomputed yet (queued
-- in the transaction that saves their links, emptied in the one that rewrites their
-- clusters, so a kill in between is caught up by the next run), the members of a
-- cluster, and the links of an article.
CREATE TABLE cluster_queue (article_id VARCHAR PRIMARY KEY);
CREATE INDEX clusters_cluster ON clusters (cluster_id);
CREATE INDEX dup_links_a ON dup_links (article_a);
CREATE INDEX dup_links_b ON dup_links (article_b);

-- Work the writer still owes after this migration: title keys of the articles already
-- checked (computed in Python, so not here). Done and deleted by the next pass.
CREATE TABLE store_tasks (task VARCHAR PRIMARY KEY);
INSERT INTO store_tasks VALUES ('title_keys');

-- Adaptive polling: the interval (seconds) the source's last successful poll chose
-- (pipeline/acquire/schedule.py); NULL until then (the source starts at min_poll).
ALTER TABLE sources ADD COLUMN poll_interval_s DOUBLE;
