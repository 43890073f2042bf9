"""Feed documents -> ``ParsedFeed``: RSS 0.9x/1.0/2.0, Atom, JSON Feed, search-API JSON.

feedparser only ever sees ``io.BytesIO(body)``: given a string it would take it for a URL
or a path and fetch or open it. Links come out absolute with aggregator redirect wrappers
removed, dates aware UTC, and every entry gets a key that is stable across polls.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import feedparser.html
import feedparser.mixin
import feedparser.sanitizer

from pipeline.acquire import budget, discover, sitemaps
from pipeline.acquire.sitemaps import (
    absolute_http_url,
    short_hash,
    url_key,
    w3c_datetime,
)
from pipeline.errors import ParseError
from pipeline.models import FeedEntry, ParsedFeed

MAX_ENTRIES = 2000
MAX_URL_LENGTH = 2048
MAX_JSON_NUMBER = 100  # characters of one JSON number; no feed field needs more
_SUMMARY_CHARS = 1000
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
_CLOSED_FEED = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|rdf)\s*>\s*$", re.IGNORECASE)
_GOOGLE_HOST = re.compile(r"^(?:www\.)?google(?:\.[a-z]{2,3}){1,2}$")

# Redirect wrappers: (host pattern, path prefix, query parameters holding the target).
_WRAPPERS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (_GOOGLE_HOST, "/url", ("url", "q")),  # Google Alerts, Google search results
    (re.compile(r"^news\.google\.com$"), "/news/url", ("url",)),
    (re.compile(r"^news\.url\.google\.com$"), "/url", ("url", "q")),
    (re.compile(r"^(?:www\.)?bing\.com$"), "/news/apiclick.aspx", ("url",)),
    (re.compile(r"^l[m]?\.facebook\.com$"), "/l.php", ("u",)),
    (re.compile(r"^out\.reddit\.com$"), "/", ("url",)),
    (re.compile(r"^(?:html\.)?duckduckgo\.com$"), "/l/", ("uddg",)),
)
# Start tags of feed items, and the closing tags that end a feed (budget.keep_first).
_ITEM_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_FEED_TAIL = re.compile(rb"</(?:[\w.-]+:)?(?:channel|rss|feed|RDF)\s*>")
_CALLBACKS = ("handle_data", "unknown_starttag", "unknown_endtag", "handle_entityref", "handle_charref")
for _parser in (feedparser.mixin._FeedParserMixin, feedparser.html._BaseHTMLProcessor,
                feedparser.sanitizer._HTMLSanitizer):
    budget.watch(_parser, *_CALLBACKS)  # feedparser is one long call: its callbacks check the clock

# Google News article tokens: only Google can turn them into the publisher's URL.
_GOOGLE_NEWS_TOKEN = re.compile(r"^/(?:rss/|__i/rss/rd/)?(?:articles|read)/")


@dataclass(frozen=True)
class _Limits:
    max_entries: int
    max_url_length: int


# --- links -----------------------------------------------------------------------------

def _wrapped_target(url: str) -> str | None:
    """The http(s) URL a known redirect wrapper points at, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for host_re, path, params in _WRAPPERS:
        if host_re.match(host) and parts.path.lower().startswith(path):
            query = parse_qs(parts.query)
            for name in params:
                target = absolute_http_url(query.get(name, [""])[0], "")
                if target:
                    return target
    return None


def unwrap_link(url: str) -> tuple[str, bool]:
    """Remove aggregator redirect wrappers; True when the result still needs the aggregator.

    ``https://www.google.com/url?...&url=X`` and Bing's ``news/apiclick.aspx?...&url=X``
    give X; a Google News ``/rss/articles/<token>`` link cannot be resolved offline.
    """
    for _ in range(3):  # wrappers inside wrappers, bounded
        target = _wrapped_target(url)
        if target is None:
            break
        url = target
    parts = urlsplit(url)
    token = (parts.hostname or "").lower() == "news.google.com" and bool(
        _GOOGLE_NEWS_TOKEN.match(parts.path))
    return url, token


# --- text and dates --------------------------------------------------------------------

def _plain(text: Any, limit: int | None = None) -> str | None:
    """Markup removed, entities decoded, whitespace collapsed; None when nothing is left."""
    if not isinstance(text, str):
        return None
    plain = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    if limit is not None and len(plain) > limit:
        plain = plain[: limit - 1].rstrip() + "…"
    return plain or None


def _struct_utc(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` values are UTC ``struct_time``s."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def _clean_guid(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # JSON Feed 1.0 allowed numeric ids
    if not isinstance(value, str):
        return None
    return value.strip() or None


# --- keys ------------------------------------------------------------------------------

def _counts(values: list[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    return counts


def _fallback_key(entry: FeedEntry, link_counts: dict[str, int]) -> str:
    if entry.url is not None and link_counts.get(entry.url) == 1:
        return url_key(entry.url)
    stamp = entry.published.isoformat() if entry.published else ""
    return "t:" + short_hash(f"{entry.title or ''}\n{stamp}")


def assign_keys(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Give each entry its stable key: "g:" GUID unique in the document, else "l:" link
    unique among the rest, else "t:" title + date; leftover twins get ".2", ".3"."""
    guid_counts = _counts([e.guid for e in entries])
    rest = [e for e in entries if e.guid is None or guid_counts[e.guid] > 1]
    link_counts = _counts([e.url for e in rest])
    keyed: list[FeedEntry] = []
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.guid is not None and guid_counts[entry.guid] == 1:
            key = "g:" + short_hash(entry.guid)
        else:
            key = _fallback_key(entry, link_counts)
        seen[key] = seen.get(key, 0) + 1
        keyed.append(replace(entry, key=key if seen[key] == 1 else f"{key}.{seen[key]}"))
    return keyed


# --- the common end of every reader ----------------------------------------------------

def _usable(entry: FeedEntry, limits: _Limits) -> bool:
    """Entries need a link or at least a title, and a link of sane length."""
    if entry.url is None:
        return entry.title is not None
    return len(entry.url) <= limits.max_url_length


def _finish(kind: str, title: str | None, link: str | None, drafts: list[FeedEntry],
            warnings: tuple[str, ...], limits: _Limits, cut_off: int = 0) -> ParsedFeed:
    usable = [d for d in drafts if _usable(d, limits)]
    keyed = assign_keys(usable)  # keys over the whole document, before the cap
    kept = keyed[: limits.max_entries]
    return ParsedFeed(kind=kind, title=title, link=link, entries=tuple(kept),
                      warnings=warnings, dropped=len(drafts) + cut_off - len(kept))


def _link_fields(raw: str | None, base_url: str) -> tuple[str | None, bool]:
    url = absolute_http_url(raw, base_url)
    return unwrap_link(url) if url else (None, False)


def _publisher_url(raw: Any, base_url: str, limits: _Limits) -> str | None:
    url = absolute_http_url(raw if isinstance(raw, str) else None, base_url)
    return url if url and len(url) <= limits.max_url_length else None


# --- RSS / Atom via feedparser ---------------------------------------------------------

def _headers(base_url: str, content_type: str | None) -> dict[str, str]:
    # Content-Location makes feedparser resolve relative links (RFC 9110 section 8.7);
    # without a content type it would add a "no Content-type" warning to every poll.
    return {"content-location": base_url, "content-type": content_type or "application/xml"}


def _fp_link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return link
    for candidate in entry.get("links") or ():
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return candidate["href"]
    return None


def _fp_author(entry: Any) -> str | None:
    """All authors (Atom allows several; feedparser's ``author`` keeps only one)."""
    names = [_plain(a.get("name")) for a in entry.get("authors") or () if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or _plain(entry.get("author"))


def _fp_entry(entry: Any, base_url: str, limits: _Limits) -> FeedEntry:
    url, unresolved = _link_fields(_fp_link(entry), base_url)
    source = entry.get("source") or {}
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedEntry(
        key="", url=url, title=_plain(entry.get("title")), published=_struct_utc(published),
        summary=_plain(entry.get("summary"), _SUMMARY_CHARS), author=_fp_author(entry),
        guid=_clean_guid(entry.get("id")),
        publisher_name=_plain(source.get("title")) or _plain(entry.get("news_source")),
        publisher_url=_publisher_url(source.get("href") or source.get("link"), base_url, limits),
        unresolved=unresolved)


def _fp_kind(version: str) -> str:
    if version.startswith("atom"):
        return "atom"
    if version in ("rss090", "rss10"):
        return "rdf"
    return "rss"


def _bozo_message(exc: BaseException) -> str:
    line = getattr(exc, "getLineNumber", None)
    if callable(line):  # xml.sax.SAXParseException
        return f"broken XML at line {line()}: {exc.getMessage()}"  # type: ignore[attr-defined]
    return str(exc) or type(exc).__name__


def _snippet(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", errors="replace").split())
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def _not_a_feed(body: bytes, parsed: Any, content_type: str | None) -> str:
    if not body.strip():
        return "not a feed: empty body"
    sniffed = discover.sniff_kind(body, content_type)
    if sniffed == "page":
        return "not a feed: looks like an HTML page (its <link rel=alternate> may name feeds)"
    if sniffed == "sitemap":
        return "not a feed: looks like a sitemap (add it as a sitemap source)"
    if not discover.looks_like_markup(body):
        return f"not a feed: not XML; body starts {_snippet(body)}"
    if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        return f"not a feed: {_bozo_message(parsed['bozo_exception'])}"
    root = discover.root_element(body)
    if root and root not in ("rss", "rdf", "feed"):
        return f"not a feed: root element <{root}> is not RSS, Atom or RDF"
    return f"not a feed: no RSS, Atom or RDF document found; body starts {_snippet(body)}"


def parse_feed(body: bytes, base_url: str, content_type: str | None = None, *,
               max_entries: int = MAX_ENTRIES, max_url_length: int = MAX_URL_LENGTH
               ) -> ParsedFeed:
    """Parse an RSS, Atom, RDF or JSON Feed document; ParseError when it is none of them."""
    limits = _Limits(max_entries, max_url_length)
    if discover.looks_like_json(body):
        return parse_json_feed(body, base_url, max_entries=max_entries,
                               max_url_length=max_url_length)
    if not body.strip() or discover.sniff_kind(body, content_type) == "page":
        raise ParseError(base_url, _not_a_feed(body, {}, content_type))
    body, unread = budget.keep_first(body, _ITEM_TAG, _FEED_TAIL, max_entries)
    parsed = feedparser.parse(io.BytesIO(body), response_headers=_headers(base_url, content_type))
    version = parsed.get("version") or ""
    result = _with_unread(_fp_result(parsed, body, base_url, limits), unread, max_entries)
    if not result.entries and (parsed.get("bozo") or not version):
        raise ParseError(base_url, _not_a_feed(body, parsed, content_type))
    return result


def _with_unread(parsed: ParsedFeed, unread: int, cap: int) -> ParsedFeed:
    if not unread:
        return parsed
    return replace(parsed, dropped=parsed.dropped + unread,
                   warnings=parsed.warnings + (f"{unread} entries past the first {cap} left unread",))


def _fp_result(parsed: Any, body: bytes, base_url: str, limits: _Limits) -> ParsedFeed:
    drafts = [_fp_entry(e, base_url, limits) for e in parsed.entries]
    warnings = _fp_warnings(parsed)
    # A document that stops before its closing tag may have cut its last entry mid-GUID
    # or mid-link; a wrong key would come back as a "new" entry on the next poll.
    cut = bool(warnings and drafts) and not _CLOSED_FEED.search(body[-256:])
    if cut:
        drafts = drafts[:-1]
        warnings += ("document ends early: its last entry was left out",)
    return _finish(_fp_kind(parsed.get("version") or ""), _plain(parsed.feed.get("title")),
                   absolute_http_url(parsed.feed.get("link"), base_url), drafts, warnings,
                   limits, cut_off=int(cut))


def _fp_warnings(parsed: Any) -> tuple[str, ...]:
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    return (f"{_bozo_message(exc)} (read leniently)",) if exc is not None else ()


# --- JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/) -----------------------

class _JsonLimit(ValueError):
    """A JSON number past ``MAX_JSON_NUMBER`` characters."""


def _json_int(text: str) -> int:
    # Python refuses ints over 4,300 digits with a plain ValueError, after reading them.
    if len(text) > MAX_JSON_NUMBER:
        raise _JsonLimit(f"a number of {len(text)} characters (at most {MAX_JSON_NUMBER})")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER:
        raise _JsonLimit(f"a number of {len(text)} characters (at most {MAX_JSON_NUMBER})")
    return float(text)


def _load_json(body: bytes, base_url: str) -> Any:
    if not body.strip():
        raise ParseError(base_url, "not a feed: empty body")
    try:  # strict=False: raw control chars in strings (hygiene removes them before storage)
        return json.loads(body, strict=False, parse_int=_json_int, parse_float=_json_float)
    except _JsonLimit as exc:
        raise ParseError(base_url, f"JSON refused: {exc}", kind="too_large") from None
    except RecursionError:  # json's C scanner counts its nesting against the recursion limit
        raise ParseError(base_url, "JSON refused: nested deeper than the parser allows "
                                   f"(about {sys.getrecursionlimit()} levels)", kind="too_large") from None
    except UnicodeDecodeError as exc:
        raise ParseError(base_url, f"broken JSON: not UTF-8 ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(base_url, f"broken JSON at line {exc.lineno}: {exc.msg}; "
                                   f"body starts {_snippet(body)}") from exc


def _json_author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")  # 1.1; 1.0 had a single "author"
    people = authors if isinstance(authors, list) else [item.get("author")]
    names = [_plain(p.get("name")) for p in people if isinstance(p, dict)]
    return ", ".join(n for n in names if n) or None


def _json_item(item: dict[str, Any], base_url: str) -> FeedEntry:
    link = item.get("url") or item.get("external_url")
    url, unresolved = _link_fields(link if isinstance(link, str) else None, base_url)
    when = item.get("date_published") or item.get("date_modified")
    summary = item.get("summary") or item.get("content_text") or item.get("content_html")
    return FeedEntry(key="", url=url, title=_plain(item.get("title")),
                     published=w3c_datetime(when if isinstance(when, str) else None),
                     summary=_plain(summary, _SUMMARY_CHARS), author=_json_author(item),
                     guid=_clean_guid(item.get("id")), unresolved=unresolved)


def _json_feed(doc: dict[str, Any], base_url: str, limits: _Limits) -> ParsedFeed:
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(base_url, "not a feed: JSON Feed without an \"items\" list")
    first = items[:limits.max_entries]  # the rest is never built
    drafts = [_json_item(i, base_url) for i in first if isinstance(i, dict) and _budget_left()]
    warnings = () if len(drafts) == len(first) else ("JSON Feed items that are not objects",)
    parsed = _finish("json", _plain(doc.get("title")),
                     absolute_http_url(doc.get("home_page_url"), base_url), drafts, warnings, limits)
    return _with_unread(parsed, len(items) - len(first), limits.max_entries)


def _budget_left() -> bool:
    budget.check()
    return True


def parse_json_feed(body: bytes, base_url: str, *, max_entries: int = MAX_ENTRIES,
                    max_url_length: int = MAX_URL_LENGTH) -> ParsedFeed:
    """Parse a JSON Feed 1.0 or 1.1 document (feedparser does not read JSON)."""
    doc = _load_json(body, base_url)
    if discover.json_kind(doc) != "json-feed":
        raise ParseError(base_url, "not a feed: JSON without a "
                                   f"\"version\" starting {discover.JSONFEED_VERSION_PREFIX}")
    return _json_feed(doc, base_url, _Limits(max_entries, max_url_length))


# --- search-API JSON (GDELT DOC 2.0 ``mode=artlist&format=json``) -----------------------

def _seendate(value: Any) -> datetime | None:
    """GDELT's "20260604T120000Z" (UTC)."""
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return w3c_datetime(value if isinstance(value, str) else None)


def _search_item(item: dict[str, Any], base_url: str) -> FeedEntry:
    link = item.get("url")
    url, unresolved = _link_fields(link if isinstance(link, str) else None, base_url)
    return FeedEntry(key="", url=url, title=_plain(item.get("title")),
                     published=_seendate(item.get("seendate")),
                     publisher_name=_plain(item.get("domain")), unresolved=unresolved)


def _search_json(doc: Any, base_url: str, limits: _Limits) -> ParsedFeed:
    if discover.json_kind(doc) != "search-json":
        raise ParseError(base_url, "not a search result list: JSON without an "
                                   "\"articles\" list")
    items = doc.get("articles") or []
    first = items[:limits.max_entries]
    drafts = [_search_item(i, base_url) for i in first if isinstance(i, dict) and _budget_left()]
    return _with_unread(_finish("search-json", None, None, drafts, (), limits),
                        len(items) - len(first), limits.max_entries)


def parse_search_json(body: bytes, base_url: str, *, max_entries: int = MAX_ENTRIES,
                      max_url_length: int = MAX_URL_LENGTH) -> ParsedFeed:
    """Parse a GDELT-style ``{"articles": [...]}`` answer; ``{}`` means no hits."""
    if body.strip() and not discover.looks_like_json(body):
        # GDELT explains a rejected query in plain text, with status 200.
        raise ParseError(base_url, f"search API answered with text: {_snippet(body)}")
    return _search_json(_load_json(body, base_url), base_url,
                        _Limits(max_entries, max_url_length))


# --- any document ----------------------------------------------------------------------

def _from_sitemap(doc: sitemaps.SitemapDoc) -> ParsedFeed:
    return ParsedFeed(kind="sitemap" if doc.kind == "urlset" else "sitemap-index",
                      title=None, link=None, entries=doc.entries, warnings=doc.warnings,
                      dropped=doc.dropped, children=doc.children)


def _parse_json_document(body: bytes, base_url: str, limits: _Limits) -> ParsedFeed:
    doc = _load_json(body, base_url)
    kind = discover.json_kind(doc)
    if kind == "json-feed":
        return _json_feed(doc, base_url, limits)
    if kind == "search-json":
        return _search_json(doc, base_url, limits)
    raise ParseError(base_url, "not a feed: JSON that is neither a JSON Feed nor an "
                               "\"articles\" list")


def parse_document(body: bytes, base_url: str, content_type: str | None = None, *,
                   max_entries: int = MAX_ENTRIES, max_url_length: int = MAX_URL_LENGTH,
                   max_bytes: int = sitemaps.MAX_BYTES, since: datetime | None = None,
                   seconds: float | None = None) -> ParsedFeed:
    """Read whatever a source served: JSON Feed, search JSON, RSS/Atom/RDF or a sitemap.

    Sitemap indexes come back with ``kind="sitemap-index"`` and their ``children``.
    ``since`` only filters sitemaps (feeds are short; the store skips what it has seen).
    ``seconds`` is the time budget of the parse (ParseError "too_large" past it).
    """
    try:
        with budget.deadline(seconds):
            return _parse_any(body, base_url, content_type, _Limits(max_entries, max_url_length),
                              max_bytes, since)
    except budget.OverBudget:
        raise ParseError(base_url, f"parse stopped: over its time budget of {seconds:g} s",
                         kind="too_large") from None


def _parse_any(body: bytes, base_url: str, content_type: str | None, limits: _Limits,
               max_bytes: int, since: datetime | None) -> ParsedFeed:
    if sitemaps.is_gzip(body):
        body = sitemaps.gunzip(body, base_url, max_bytes=max_bytes)
    if discover.looks_like_json(body):
        return _parse_json_document(body, base_url, limits)
    if discover.sniff_kind(body, content_type) == "sitemap":
        return _from_sitemap(sitemaps.parse_sitemap(
            body, base_url, since=since, max_entries=limits.max_entries,
            max_url_length=limits.max_url_length, max_bytes=max_bytes))
    return parse_feed(body, base_url, content_type, max_entries=limits.max_entries,
                      max_url_length=limits.max_url_length)
