-- 0005: whether a failed page is worth fetching again (a timeout, a refused connection or
-- a 5xx / 429 is; a 404 or a page with no article text is not).
ALTER TABLE articles ADD COLUMN fail_transient BOOLEAN;
