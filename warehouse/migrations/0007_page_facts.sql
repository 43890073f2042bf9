-- Issue 9: where each article's facts came from, and where its page is archived.
-- published_at holds only a date that is not a guess; published_source says which source
-- gave it ('page', 'jsonld', 'feed', 'url'). A date guessed from the text is kept apart
-- in date_guess and never counts (story windows, timeline, digest).
ALTER TABLE articles ADD COLUMN published_source VARCHAR;
ALTER TABLE articles ADD COLUMN date_guess TIMESTAMPTZ;
ALTER TABLE articles ADD COLUMN encoding VARCHAR;          -- the codec the page was decoded with
ALTER TABLE articles ADD COLUMN encoding_source VARCHAR;   -- bom, http, meta, detected (...), default
ALTER TABLE articles ADD COLUMN extract_notes VARCHAR;     -- e.g. a date dropped by the sanity range
-- The fetched page (request, response headers, raw bytes) in the WARC archive: the file's
-- name relative to the archive folder and the offset of the response record.
ALTER TABLE articles ADD COLUMN warc_file VARCHAR;
ALTER TABLE articles ADD COLUMN warc_offset BIGINT;
-- Feed/reference rows keep their published_at: its source is the feed or the reference set.
UPDATE articles SET published_source = CASE WHEN is_reference THEN 'reference' ELSE 'feed' END
WHERE published_at IS NOT NULL AND status <> 'extracted';
