-- 0004: finding coverage through other channels (issue 4): page sources remember the
-- feed they discovered, and aggregator items that could not be resolved offline are
-- merged into the publisher's article once it turns up by another channel.

-- kind = "page" sources: the feed found on the page (<link rel="alternate"> or a common
-- feed path), polled until it fails; NULL means "discover on the next poll".
ALTER TABLE sources ADD COLUMN discovered_url VARCHAR;
ALTER TABLE sources ADD COLUMN discovered_at TIMESTAMPTZ;

-- status = 'merged': an unresolved aggregator item matched to the publisher's article
-- (same outlet, same normalized title, dates within 3 days). Its sightings and links now
-- point at that article; the row stays as the record of the match.
ALTER TABLE articles ADD COLUMN merged_into VARCHAR;
