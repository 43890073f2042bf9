-- 0001: the facts newswatch keeps. Never edit after it lands; add a new migration instead.

-- Where coverage comes from: a publication, attributed by registrable domain or config.
CREATE TABLE outlets (
    outlet_id   VARCHAR PRIMARY KEY,   -- config id, or the registrable domain when discovered
    name        VARCHAR NOT NULL,
    domain      VARCHAR,
    configured  BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen  TIMESTAMPTZ NOT NULL
);

-- What we poll, and how the last polls went (one row per configured source).
CREATE TABLE sources (
    source_id             VARCHAR PRIMARY KEY,
    kind                  VARCHAR NOT NULL,     -- feed, search, sitemap, page
    url                   VARCHAR NOT NULL,
    outlet_id             VARCHAR,
    story_id              VARCHAR,
    etag                  VARCHAR,
    last_modified         VARCHAR,
    body_hash             VARCHAR,              -- spots unchanged feeds whose validators lie
    last_attempt_at       TIMESTAMPTZ,
    last_unconditional_at TIMESTAMPTZ,
    last_success_at       TIMESTAMPTZ,
    last_error_at         TIMESTAMPTZ,
    last_error_kind       VARCHAR,
    last_error            VARCHAR,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    next_check_at         TIMESTAMPTZ,
    active                BOOLEAN NOT NULL DEFAULT TRUE   -- false once removed from config
);

-- One row per ingest run.
CREATE TABLE runs (
    run_id              BIGINT PRIMARY KEY,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    status              VARCHAR NOT NULL,   -- running, done, interrupted (stopped on request), killed (found still running by the next run)
    sources_ok          INTEGER,
    sources_failed      INTEGER,
    new_sightings       INTEGER,
    new_articles        INTEGER,
    extraction_failures INTEGER,
    seeds_loaded        INTEGER
);

-- One row per article page (or per reference article): extracted text and metadata.
CREATE TABLE articles (
    article_id      VARCHAR PRIMARY KEY,      -- hash of the canonical URL
    canonical_url   VARCHAR NOT NULL UNIQUE,
    url             VARCHAR NOT NULL,         -- where the page was fetched from
    outlet_id       VARCHAR,
    status          VARCHAR NOT NULL,         -- extracted, failed, unresolved, reference
    fail_reason     VARCHAR,
    attempts        INTEGER NOT NULL DEFAULT 0,
    title           VARCHAR,
    author          VARCHAR,
    published_at    TIMESTAMPTZ,
    site_name       VARCHAR,
    language        VARCHAR,
    description     VARCHAR,
    body            VARCHAR,
    content_hash    VARCHAR,
    word_count      INTEGER,
    is_reference    BOOLEAN NOT NULL DEFAULT FALSE,
    reference_file  VARCHAR,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    run_id          BIGINT
);

-- Every URL known to lead to an article: feed links, final URLs, declared canonicals.
CREATE TABLE article_urls (
    url_key     VARCHAR PRIMARY KEY,          -- fingerprint.canonical_url of the URL
    article_id  VARCHAR NOT NULL
);

-- Every time a source listed an article: the fact behind "who carried it, found how".
CREATE TABLE sightings (
    source_id       VARCHAR NOT NULL,
    entry_key       VARCHAR NOT NULL,
    article_id      VARCHAR NOT NULL,
    link            VARCHAR,
    title           VARCHAR,
    published_at    TIMESTAMPTZ,
    publisher_name  VARCHAR,
    publisher_url   VARCHAR,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    run_id          BIGINT,
    PRIMARY KEY (source_id, entry_key)
);

-- Every HTTP fetch of a source document, successful or not.
CREATE TABLE fetch_log (
    run_id       BIGINT,
    source_id    VARCHAR NOT NULL,
    url          VARCHAR NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    http_status  INTEGER,
    ok           BOOLEAN NOT NULL,
    error_kind   VARCHAR,
    error        VARCHAR,
    elapsed_ms   INTEGER,
    bytes        BIGINT,
    entries      INTEGER,
    new_entries  INTEGER
);

-- Near-duplicate fingerprint of each extracted article.
CREATE TABLE fingerprints (
    article_id  VARCHAR PRIMARY KEY,
    minhash     UBIGINT[] NOT NULL
);

-- LSH band keys: articles sharing a key are near-duplicate candidates.
CREATE TABLE lsh_bands (
    band_key    BIGINT NOT NULL,
    article_id  VARCHAR NOT NULL,
    PRIMARY KEY (band_key, article_id)
);
