-- 0003: the digest outbox. Never edit after it lands; add a new migration instead.

-- One row per (story, digest day, recipient), written with the rendered message BEFORE the
-- SMTP conversation starts, and marked sent only after the server accepted the message
-- (rss2email's habit). The primary key is what makes a second trigger for the same day a
-- no-op. States:
--   pending  not delivered yet; the next `newswatch digest --send` (or the daemon) sends it
--   sending  the SMTP conversation is under way; found like this by a later job it means
--            that job crashed mid-send, and the row becomes `unknown`
--   sent     the server answered 250 to the end of the message
--   failed   refused for good (5xx, login refused, TLS not trusted); only --resend retries
--   unknown  the connection was lost after the message's final "." (or the sender died
--            mid-send): it may have been delivered; only --resend sends it again
CREATE TABLE digest_outbox (
    story_id      VARCHAR NOT NULL,
    day           DATE NOT NULL,          -- the digest's date, in digest.timezone
    recipient     VARCHAR NOT NULL,       -- the address (addr-spec), lower-cased
    message_id    VARCHAR NOT NULL,       -- stable per (story, day, recipient)
    state         VARCHAR NOT NULL,       -- pending, sending, sent, failed, unknown
    window_start  TIMESTAMPTZ NOT NULL,   -- articles first seen after this ...
    window_end    TIMESTAMPTZ NOT NULL,   -- ... and up to this are the digest's news
    message       BLOB NOT NULL,          -- the message as rendered once; re-sends send it again
    attempts      INTEGER NOT NULL DEFAULT 0,  -- SMTP sessions started for it
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    last_error    VARCHAR,
    server_reply  VARCHAR,                -- the server's reply to the end of the message
    PRIMARY KEY (story_id, day, recipient)
);
