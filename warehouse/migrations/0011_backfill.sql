-- 0011: backfill from web archives (issue 13). Pages read from WARC files are sighted by
-- the source 'backfill' (kind 'backfill', never polled: inactive, added by the first
-- backfill), so every view that names a channel shows them as such; each archive file
-- loaded is recorded once.

CREATE TABLE backfill_files (
    warc_key      VARCHAR PRIMARY KEY,     -- file name and size (shards.warc_key)
    warc_name     VARCHAR NOT NULL,
    warc_path     VARCHAR,                 -- where the coordinator was given it
    records       INTEGER,                 -- response records of wanted hosts and dates
    kept          INTEGER,                 -- articles the file's shards hold
    loaded_at     TIMESTAMPTZ NOT NULL,
    run_id        BIGINT                   -- the runs row of the backfill that loaded it
);
