"""Content: from an article page's bytes to text, identity and copies.

Takes in: a fetched page (bytes and URL). Gives out: ``Article`` (text, title, author,
dates, site name, canonical URL), ``Fingerprint`` (canonical URL, content hash, MinHash
signature and LSH bands), near-duplicate links, and the outlet an article belongs to.

- ``decode``: page bytes -> text as browsers choose the encoding; binary bodies named.
- ``extract``: ``extract_page(body, url, headers, feed_date, feed_title)`` -> Article
  (trafilatura on the decoded page, title, length rule); ``dates``: the publication date
  and its source; ``worker``: extraction in separate processes (a pool, one per core by
  default) with a hard time limit.
- ``claims``: which article a link became this run, shared by sources polled at once.
- ``archive``: the WARC page archive (writer, ``iter_responses``, ``read_response``);
  ``reextract``: archived pages through the current extractor, fetching nothing.
- ``fingerprint``: canonical URLs, normalized text, shingles, MinHash;
  ``neardup``: copy / excerpt decisions; ``overlap``: exact shared-shingle counts of one
  text against all its candidates, in numpy; ``dedup``: candidates from the warehouse's
  band keys, confirmed, linked and clustered; each outlet's template learnt from its
  kept window of recent pages and its new pages.
- ``outlets``: which outlet a URL belongs to.

Imports: ``errors``, ``models``, ``config``, ``store``. Imported by ``story``,
``refresh``, ``jobs`` and ``cli``; never by acquire or deliver.
"""
