-- Articles of finished backfill files not loaded yet, read in place from their Parquet
-- shards (one row per article, pages of already known URLs left out, so loading them
-- changes no count). Defined here empty; the writer redefines it over the registered
-- shard folders when some of their files are finished and not loaded (store/pending.py).
CREATE OR REPLACE VIEW backfill_pending AS SELECT * FROM articles WHERE FALSE;

-- Every article the warehouse knows of: loaded ones and those waiting in backfill shards.
-- The coverage views count from here.
CREATE OR REPLACE VIEW all_articles AS
SELECT * FROM articles
UNION ALL
SELECT * FROM backfill_pending;
