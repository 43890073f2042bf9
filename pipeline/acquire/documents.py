"""A source's document, whatever its kind: the HTTP half of "fetch -> parse" for
``refresh``.

- ``feed`` and ``search``: the URL itself (RSS, Atom, RDF, JSON Feed, search-API JSON).
- ``sitemap``: the URL, or, when it is a site root or a robots.txt, the robots.txt whose
  ``Sitemap:`` lines (RFC 9309 section 2.2.4) name the sitemaps. Sitemap indexes and
  robots.txt have children: at most ``MAX_CHILDREN`` of them are fetched per poll, and
  only URLs dated after ``since`` are taken (see ``sitemap_since``).
- ``page``: an outlet's page whose feed is discovered (``<link rel="alternate">``, then
  the usual feed paths) and polled. The feed found is remembered by the caller, so the
  page is read again only when that feed fails.
Every request goes through the one guarded ``Fetcher``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import urlsplit

from pipeline.acquire import discover
from pipeline.acquire.feeds import MAX_ENTRIES, parse_document
from pipeline.acquire.fetch import Fetcher, Validators
from pipeline.acquire.sitemaps import sitemaps_from_robots
from pipeline.errors import ParseError, SourceError
from pipeline.models import FeedEntry, FetchResult, ParsedFeed

# News sitemaps list the last two days of articles (Google's guideline); three days leave
# room for a missed poll. A story's window reaches further back (see sitemap_since).
SITEMAP_RECENT = timedelta(days=3)
MAX_CHILDREN = 20  # child sitemaps fetched per poll of one source
MAX_FEED_TRIES = 12  # candidate feed URLs fetched when discovering a page's feed
MAX_DECLARED = 5  # of which declared by <link rel="alternate">

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
TEXT_ACCEPT = "text/plain, */*;q=0.5"


@dataclass(frozen=True)
class Timeouts:
    feed: float
    page: float


@dataclass(frozen=True)
class Fetched:
    """The document fetched for a source; ``discovered`` is a page source's new feed URL."""

    result: FetchResult
    discovered: str | None = None


def sitemap_since(stories: Iterable[Any], now: datetime) -> datetime:
    """Oldest sitemap date taken: ``SITEMAP_RECENT`` ago, or the start of the earliest
    window of a story still running (a story's coverage stays wanted while it runs)."""
    recent = now - SITEMAP_RECENT
    starts = [datetime.combine(s.window_start, time(), timezone.utc) for s in stories
              if s.window_end is None or s.window_end >= recent.date()]
    return min([recent, *starts])


def robots_url(url: str) -> str | None:
    """The robots.txt to read for a sitemap source given as a site root or a robots.txt."""
    parts = urlsplit(url)
    if parts.path in ("", "/", "/robots.txt") and not parts.query:
        return f"{parts.scheme}://{parts.netloc}/robots.txt"
    return None


# -- fetching ----------------------------------------------------------------------------

def fetch_document(fetcher: Fetcher, source: dict[str, Any], validators: Validators | None,
                   timeouts: Timeouts) -> Fetched:
    """The source's document; SourceError when it cannot be had."""
    if source["kind"] == "page":
        return _page_feed(fetcher, source["url"], source.get("discovered_url"), validators, timeouts)
    robots = robots_url(source["url"]) if source["kind"] == "sitemap" else None
    if robots:
        return Fetched(fetcher.get(robots, deadline=timeouts.feed, accept=TEXT_ACCEPT))
    return Fetched(_get_feed(fetcher, source["url"], validators, timeouts))


def _get_feed(fetcher: Fetcher, url: str, validators: Validators | None, timeouts: Timeouts) -> FetchResult:
    return fetcher.get(url, deadline=timeouts.feed, validators=validators, accept=FEED_ACCEPT)


def _page_feed(fetcher: Fetcher, page_url: str, remembered: str | None,
               validators: Validators | None, timeouts: Timeouts) -> Fetched:
    if remembered:
        try:
            return Fetched(_get_feed(fetcher, remembered, validators, timeouts))
        except SourceError:
            pass  # the feed moved or died: the page may name its new place
    result, feed_url = discover_feed(fetcher, page_url, timeouts)
    return Fetched(result, discovered=feed_url)


def discover_feed(fetcher: Fetcher, page_url: str, timeouts: Timeouts) -> tuple[FetchResult, str]:
    """(the feed's response, its URL): the feeds the page declares first, then the usual
    feed paths; ParseError when none of them serves a feed."""
    page = fetcher.get(page_url, deadline=timeouts.page, accept=HTML_ACCEPT)
    if is_feed(page):
        return page, page_url  # a feed given as a page: poll it as it is
    for url in feed_candidates(page)[:MAX_FEED_TRIES]:
        try:
            result = _get_feed(fetcher, url, None, timeouts)
        except SourceError:
            continue
        if is_feed(result):
            return result, url
    raise ParseError(page_url, "no feed found: the page declares none with <link rel=\"alternate\"> "
                               "and none of the usual feed paths serves one",
                     remedy="add the outlet's feed or news sitemap as a source instead")


def feed_candidates(page: FetchResult) -> list[str]:
    declared = [f.url for f in discover.discover_feeds(page.body, page.final_url)][:MAX_DECLARED]
    guessed = discover.candidate_feed_urls(page.final_url)
    return declared + [u for u in guessed if u not in declared]


def is_feed(result: FetchResult) -> bool:
    return discover.sniff_kind(result.body, result.content_type) in ("feed", "json-feed")


# -- parsing, with children --------------------------------------------------------------

def read_document(fetcher: Fetcher, source: dict[str, Any], result: FetchResult, since: datetime,
                  timeouts: Timeouts) -> ParsedFeed:
    """Parse the document; a sitemap index or robots.txt comes back with the entries of
    its children merged in (``children`` still names the ones it listed)."""
    if source["kind"] == "sitemap" and robots_url(source["url"]):
        parsed = _robots(result)
    else:
        parsed = parse_document(result.body, result.final_url, result.content_type, since=since,
                                seconds=timeouts.feed)  # the parse gets the fetch's deadline again
    return _with_children(fetcher, parsed, since, timeouts) if parsed.children else parsed


def _robots(result: FetchResult) -> ParsedFeed:
    found = sitemaps_from_robots(result.body.decode("utf-8", errors="replace"), result.final_url)
    if not found:
        raise ParseError(result.url, "robots.txt names no sitemap (no \"Sitemap:\" line)",
                         remedy="give the sitemap's own URL as the source")
    return ParsedFeed(kind="robots", title=None, link=None, entries=(), children=tuple(found))


@dataclass
class _Children:
    """What the children of one index gave, collected breadth first."""

    entries: dict[str, FeedEntry]
    warnings: list[str]
    errors: list[SourceError]
    dropped: int = 0
    fetched: int = 0


def _with_children(fetcher: Fetcher, parsed: ParsedFeed, since: datetime, timeouts: Timeouts) -> ParsedFeed:
    got = _Children({e.key: e for e in parsed.entries}, list(parsed.warnings), [], parsed.dropped)
    queue, seen = list(parsed.children), set(parsed.children)
    while queue and got.fetched < MAX_CHILDREN:
        child = _child(fetcher, queue.pop(0), since, timeouts, got)
        fresh = [c for c in (child.children if child else ()) if c not in seen]
        seen.update(fresh)
        queue += fresh  # an index inside robots.txt: its sitemaps come next
    if got.errors and not got.entries and len(got.errors) == got.fetched:
        raise got.errors[0]  # nothing worked: the source failed
    if queue:
        got.warnings.append(f"{len(queue)} child sitemaps left out (at most {MAX_CHILDREN} per poll)")
    return _merged(parsed, got)


def _child(fetcher: Fetcher, url: str, since: datetime, timeouts: Timeouts, got: _Children) -> ParsedFeed | None:
    got.fetched += 1
    try:
        result = fetcher.get(url, deadline=timeouts.feed, accept=FEED_ACCEPT)
        child = parse_document(result.body, result.final_url, result.content_type, since=since,
                               seconds=timeouts.feed)
    except SourceError as exc:
        got.errors.append(exc)
        got.warnings.append(f"child sitemap {url}: {exc}")
        return None
    for entry in child.entries:
        got.entries.setdefault(entry.key, entry)
    got.warnings += child.warnings
    got.dropped += child.dropped
    return child


def _merged(parsed: ParsedFeed, got: _Children) -> ParsedFeed:
    entries = list(got.entries.values())
    if len(entries) > MAX_ENTRIES:  # keep the most recent, as parse does for one document
        floor = datetime.min.replace(tzinfo=timezone.utc)
        entries = sorted(entries, key=lambda e: e.published or floor, reverse=True)[:MAX_ENTRIES]
    return ParsedFeed(kind=parsed.kind, title=parsed.title, link=parsed.link, entries=tuple(entries),
                      warnings=tuple(got.warnings), children=parsed.children,
                      dropped=got.dropped + len(got.entries) - len(entries))
