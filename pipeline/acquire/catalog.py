"""``newswatch sources add``: find out what a URL serves and append it to sources.toml.

The URL is fetched with the same guarded ``Fetcher`` as every poll, and recognised from
its bytes (``discover.sniff_kind``): a feed, a search-API answer, a sitemap or sitemap
index, a robots.txt naming sitemaps, or a web page whose feed can be discovered. The
``[[source]]`` table is appended as text at the end of the file, so the file's comments
and layout stay as they were; the whole configuration is then loaded again, and the file
is put back as it was when the result does not validate.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from pipeline.acquire import discover
from pipeline.acquire.documents import Timeouts, feed_candidates, is_feed, robots_url
from pipeline.acquire.feeds import parse_document
from pipeline.acquire.fetch import Fetcher
from pipeline.acquire.sitemaps import sitemaps_from_robots
from pipeline.config import Settings, load_settings, outlet_slug
from pipeline.errors import ConfigError, ParseError, SourceError
from pipeline.models import FetchResult

_ANY_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/json;q=0.9, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5")


@dataclass(frozen=True)
class Detected:
    """What a URL turned out to be, and how to poll it."""

    kind: str  # feed, search, sitemap, page
    title: str | None  # the feed's title, when it has one
    description: str  # for the person adding it: "RSS feed with 12 entries", ...


def detect_source(fetcher: Fetcher, url: str, timeouts: Timeouts, query: str | None = None) -> Detected:
    """Fetch ``url`` (``{query}`` filled with ``query``) and say what kind of source it is;
    ParseError when it is nothing newswatch can poll."""
    searching = query is not None or "{query}" in url
    target = url.replace("{query}", quote_plus(query or "")) if "{query}" in url else url
    if urlsplit(target).path == "/robots.txt":
        return _robots_source(fetcher, target, timeouts)
    result = fetcher.get(target, deadline=timeouts.feed, accept=_ANY_ACCEPT)
    sniffed = discover.sniff_kind(result.body, result.content_type)
    if sniffed in ("feed", "json-feed", "search-json", "sitemap"):
        return _document_source(result, sniffed, searching)
    if sniffed == "page":
        return _page_source(fetcher, result, timeouts)
    raise ParseError(url, "not a feed, sitemap, search result list or web page")


def _document_source(result: FetchResult, sniffed: str, searching: bool) -> Detected:
    parsed = parse_document(result.body, result.final_url, result.content_type)
    if sniffed == "sitemap":
        what = ("sitemap index" if parsed.children else "sitemap")
        count = f"{len(parsed.children)} child sitemaps" if parsed.children else f"{len(parsed.entries)} URLs"
        return Detected("sitemap", None, f"{what} with {count}")
    kind = "search" if searching or sniffed == "search-json" else "feed"
    return Detected(kind, parsed.title, f"{parsed.kind} document with {len(parsed.entries)} entries")


def _robots_source(fetcher: Fetcher, url: str, timeouts: Timeouts) -> Detected:
    result = fetcher.get(url, deadline=timeouts.feed, accept="text/plain, */*;q=0.5")
    found = sitemaps_from_robots(result.body.decode("utf-8", errors="replace"), result.final_url)
    if not found:
        raise ParseError(url, "robots.txt names no sitemap (no \"Sitemap:\" line)")
    return Detected("sitemap", None, f"robots.txt naming {len(found)} sitemap(s): {', '.join(found[:3])}")


def _page_source(fetcher: Fetcher, page: FetchResult, timeouts: Timeouts) -> Detected:
    for candidate in feed_candidates(page)[:12]:
        try:
            found = fetcher.get(candidate, deadline=timeouts.feed, accept=_ANY_ACCEPT)
        except SourceError:
            continue
        if is_feed(found):
            title = parse_document(found.body, found.final_url, found.content_type).title
            return Detected("page", title, f"web page whose feed is {candidate}")
    if robots_url(page.url):  # a site root without feeds: its robots.txt may name sitemaps
        return _robots_source(fetcher, robots_url(page.url) or "", timeouts)
    raise ParseError(page.url, "a web page that names no feed, and none of the usual feed paths serves one",
                     remedy="give the feed's or the news sitemap's own URL")


# -- sources.toml ------------------------------------------------------------------------

def source_table(settings: Settings, url: str, detected: Detected, *, source_id: str | None,
                 outlet: str | None, story: str | None) -> dict[str, str]:
    """The [[source]] table to append, with a fresh id unless one was given."""
    table = {"id": source_id or _fresh_id(settings, url, detected), "kind": detected.kind, "url": url}
    if outlet:
        table["outlet"] = outlet
    if story:
        table["story"] = story
    return table


def _fresh_id(settings: Settings, url: str, detected: Detected) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "source").removeprefix("www.")
    base = outlet_slug(detected.title or "") or outlet_slug(f"{host} {parts.path}")[:60].strip("-")
    taken = {s.id for s in settings.sources}
    candidate, n = base or "source", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def append_source(config_dir: Path, table: dict[str, str]) -> str:
    """Append ``table`` to sources.toml as text and check the configuration still loads;
    on ConfigError the file is restored and the error raised. Returns the text added."""
    path = config_dir / "sources.toml"
    original = path.read_text(encoding="utf-8")
    block = "\n[[source]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
    joiner = "" if original.endswith("\n") or not original else "\n"
    _write(path, original + joiner + block)
    try:
        load_settings(config_dir)
    except ConfigError:
        _write(path, original)
        raise
    return block


def _write(path: Path, text: str) -> None:
    """Replace the file in one step, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sources-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
