"""Content: from an article page's bytes to text, identity and copies.

Takes in: a fetched page (bytes and URL). Gives out: ``Article`` (text, title, author,
dates, site name, canonical URL), ``Fingerprint`` (canonical URL, content hash, MinHash
signature and LSH bands), near-duplicate links, and the outlet an article belongs to.

- ``extract``: trafilatura on the page; ``worker``: the same in separate processes
  (a pool, one per core by default) with a hard time limit.
- ``claims``: which article a link became this run, shared by sources polled at once.
- ``fingerprint``: canonical URLs, normalized text, shingles, MinHash;
  ``neardup``: copy / excerpt decisions; ``dedup``: candidates from the warehouse's band
  keys, confirmed, linked and clustered.
- ``outlets``: which outlet a URL belongs to.

Imports: ``errors``, ``models``, ``config``, ``store``. Imported by ``story``,
``refresh``, ``jobs`` and ``cli``; never by acquire or deliver.
"""
