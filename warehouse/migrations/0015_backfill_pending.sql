-- 0015: the views see backfill shards before they are loaded (issue 13b). A backfill
-- registers its shard folder here; whenever the writer opens the warehouse, and before
-- and after every backfill, the view `backfill_pending` is redefined: over the shards of
-- finished files not loaded yet when there are any (or a backfill is under way), else as
-- an empty view of `articles`' columns, so no view ever reads a folder with no files.

CREATE TABLE backfill_shards (
    shard_glob     VARCHAR PRIMARY KEY,    -- <shards>/*/source=*/month=*/*.parquet (pages and the schema file)
    manifest_glob  VARCHAR NOT NULL,       -- <shards>/manifest/*.json, one per finished file
    schema_file    VARCHAR NOT NULL,       -- an empty shard with every column (never no file)
    active         BOOLEAN NOT NULL,       -- a backfill is under way (its tasks may finish any time)
    registered_at  TIMESTAMPTZ NOT NULL
);
