"""Acquire: getting documents from the web, safely and politely, and reading what they list.

Takes in: a source (feed, search feed, sitemap, page) or an article URL, with the HTTP
limits. Gives out: ``FetchResult`` (bytes with their headers, or a classified failure) and
``ParsedFeed`` / ``FeedEntry`` lists (what a feed, sitemap or search result names).

- ``fetch``: HTTP only: address guard, deadlines, size cap, redirects, conditional GET,
  connections kept alive; ``hosts``: one request at a time per host, a pause between.
- ``robots``, ``robots_gate``: RFC 9309 rules for article pages, cached in the warehouse.
- ``feeds``: RSS / Atom / RDF / JSON Feed bytes -> entries; ``sitemaps``: news sitemaps.
- ``discover``: aggregator links unwrapped, feeds found on a page.
- ``budget``: work budgets of parsing: items past the cap cut before parsing, a time limit.
- ``documents``: one source's document, whatever its kind, fetched and read.
- ``catalog``: what ``newswatch sources add URL`` finds a URL to be.

Imports: ``errors``, ``models``, ``config``, ``store`` (the robots cache). Imported by
``refresh``, ``jobs`` and ``cli``; never by content, story or deliver.
"""
