-- 0016: each outlet's template window kept between runs (issue 12). The template of an
-- outlet (0013) is learnt from its TEMPLATE_SAMPLE most recently seen extracted pages;
-- relearning it read and re-shingled all of them on every run (a scan of articles, and
-- about 0.6 ms a page). Here the window's pages are kept with their shingles, so a run
-- merges only the outlet's new pages into it. A conclusion, not a fact: rebuilt from
-- articles.body whenever an outlet has no template_state row (new outlets, warehouses
-- older than this migration, and outlets whose window a changed article row made stale).

-- Outlets whose window below is complete and current, and when it was last rebuilt from
-- articles (a run that only merges new pages into it leaves this row alone).
CREATE TABLE template_state (
    outlet_id   VARCHAR PRIMARY KEY,
    rebuilt_at  TIMESTAMPTZ NOT NULL
);

-- The pages of each window: the sorted distinct word-shingle hashes of the page's text
-- (little-endian uint64, ``fingerprint.shingle_array``), its word count and the digest of
-- its words (``overlap.Shingled``), and the article's first_seen_at (as microseconds since
-- the epoch: read back as plain integers, 5x faster than timestamps), which orders the window.
CREATE TABLE template_pages (
    article_id     VARCHAR PRIMARY KEY,
    outlet_id      VARCHAR NOT NULL,
    first_seen_us  BIGINT NOT NULL,
    words          INTEGER NOT NULL,
    digest         BLOB NOT NULL,
    shingles       BLOB NOT NULL
);
CREATE INDEX template_pages_outlet ON template_pages (outlet_id);
