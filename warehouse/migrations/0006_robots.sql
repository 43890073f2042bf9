-- 0006: robots.txt of the hosts whose article pages we fetch, kept 24 hours (RFC 9309
-- §2.4). `status` is the HTTP status, or NULL when the host could not be reached.
CREATE TABLE robots_txt (
    origin      VARCHAR PRIMARY KEY,     -- scheme://host[:port]
    fetched_at  TIMESTAMPTZ NOT NULL,
    status      INTEGER,
    body        VARCHAR
);
