-- 0013: each outlet's template text, as word-shingle hashes learnt from its own recent
-- pages (issue 11). A conclusion, not a fact: recomputed from articles.body whenever the
-- outlet has new pages to check for copies (`neardup.template_shingles`).
CREATE TABLE outlet_template (
    outlet_id    VARCHAR NOT NULL,
    shingle      UBIGINT NOT NULL,
    texts        INTEGER NOT NULL,      -- how many of the outlet's pages it was learnt from
    computed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (outlet_id, shingle)
);
