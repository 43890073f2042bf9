"""Sitemaps -> entries: news sitemaps, sitemap indexes, gzip bodies, robots.txt lines.

Follows https://www.sitemaps.org/protocol.html and Google's News sitemap extension
(``news:publication``, ``news:publication_date``, ``news:title``). Elements are matched by
local name, because many sites declare the ``news:`` namespace with a wrong URI.
Pure: bytes in, a ``SitemapDoc`` out; the caller fetches the children.

Also the small helpers the other readers share: ``url_key`` (the "l:" entry key),
``w3c_datetime`` (W3C / RFC 3339 dates to UTC) and bounded gunzip.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from lxml import etree

from pipeline.acquire.budget import check, keep_first
from pipeline.errors import ParseError
from pipeline.models import FeedEntry

GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 section 2.3.1
MAX_BYTES = 15 * 1024 * 1024  # same cap as the fetcher's decoded-body cap
MAX_URLS = 50_000  # sitemaps.org: a sitemap file lists at most 50,000 URLs; the rest is not read
_CHUNK = 64 * 1024
_ITEM_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:url|sitemap)[\s/>]")
_TAIL = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex)\s*>")
_LENIENT = " (read leniently)"
_CLOSED = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex)\s*>\s*$")
_ROBOTS_SITEMAP = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^https?://[^/?#]", re.IGNORECASE)
_LINK_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_POSITION = re.compile(r", line \d+, column \d+$")  # lxml repeats the position in msg
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_BARE_AMP = re.compile(rb"&(?!(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z_][\w.-]*);)")


@dataclass(frozen=True)
class SitemapDoc:
    """One parsed sitemap: entries of a ``urlset`` or child sitemap URLs of an index."""

    kind: str  # "urlset" or "index"
    entries: tuple[FeedEntry, ...] = ()
    children: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    dropped: int = 0  # over the cap, URL too long or not http(s), repeated
    skipped: int = 0  # older than ``since``


# --- shared helpers --------------------------------------------------------------------

def short_hash(text: str) -> str:
    """First 16 hex digits of SHA-256: 64 bits, ample for keys inside one source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def url_key(url: str) -> str:
    """The entry key made from an absolute URL (same rule in feeds and sitemaps)."""
    return "l:" + short_hash(url)


def w3c_datetime(text: str | None) -> datetime | None:
    """W3C Datetime / RFC 3339 text to aware UTC; naive values are taken as UTC."""
    text = (text or "").strip()
    if not text:
        return None
    partial = _PARTIAL_DATE.match(text)  # "2026" or "2026-06" (W3C allows both)
    try:
        if partial:
            value = datetime(int(partial[1]), int(partial[2] or 1), 1)
        else:
            value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _controls_encoded(link: str) -> str:
    """As a browser reads a link (WHATWG URL): tabs and line breaks dropped, the other
    control characters percent-encoded, so none reaches a request or the warehouse."""
    if not _LINK_CONTROLS.search(link):
        return link
    link = re.sub(r"[\t\n\r]", "", link)
    return _LINK_CONTROLS.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), link)


def absolute_http_url(link: str | None, base_url: str) -> str | None:
    """``link`` resolved against ``base_url``; None unless it is http(s) with a host."""
    if not link or not link.strip():
        return None
    link = _controls_encoded(link.strip())
    try:
        # urljoin is the slow part of reading a big sitemap; absolute links skip it.
        url = link if _ABSOLUTE.match(link) else urljoin(base_url, link)
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


# --- gzip ------------------------------------------------------------------------------

def is_gzip(body: bytes) -> bool:
    return body[:2] == GZIP_MAGIC


def _inflate(body: bytes) -> Iterator[bytes]:
    """Decompressed chunks of at most 64 KiB each, so a bomb never lands in memory whole."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = body
    while True:
        out = inflater.decompress(data, _CHUNK)
        if out:
            yield out
        data = inflater.unconsumed_tail
        if inflater.eof:
            data = inflater.unused_data
            if not is_gzip(data):  # RFC 1952 allows several members; junk after is ignored
                return
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif not data and not out:
            raise zlib.error("unexpected end of gzip stream")


def gunzip(body: bytes, url: str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """Decompress a gzip body, refusing (kind "too_large") past ``max_bytes``."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in _inflate(body):
            size += len(chunk)
            if size > max_bytes:
                raise ParseError(url, f"gzip body expands past {max_bytes} bytes; refused",
                                 kind="too_large")
            parts.append(chunk)
    except zlib.error as exc:
        raise ParseError(url, f"broken gzip body: {exc}") from exc
    return b"".join(parts)


def gunzip_head(body: bytes, limit: int = _CHUNK) -> bytes:
    """At most ``limit`` decompressed bytes from the start (for sniffing); b"" if broken."""
    head = b""
    try:
        for chunk in _inflate(body):
            head += chunk
            if len(head) >= limit:
                break
    except zlib.error:
        return head
    return head[:limit]


# --- robots.txt ------------------------------------------------------------------------

def sitemaps_from_robots(text: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt (RFC 9309 section 2.2.4), absolute, deduplicated."""
    found: list[str] = []
    for line in text.splitlines():
        match = _ROBOTS_SITEMAP.match(line.split("#", 1)[0])  # RFC 9309: "#" starts a comment
        url = absolute_http_url(match[1], base_url) if match else None
        if url and url not in found:
            found.append(url)
    return found


# --- XML -------------------------------------------------------------------------------

def _xml_parser(recover: bool) -> etree.XMLParser:
    # No entity expansion, no DTD, no network: a sitemap needs none of them, and refusing
    # them defends against "billion laughs" and external-entity (XXE) documents.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False, dtd_validation=False, recover=recover)


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    line = exc.position[0] if exc.position else None
    where = f" at line {line}" if line else ""
    return f"broken XML{where}: {_POSITION.sub('', exc.msg)}"


def _parse_xml(body: bytes, url: str) -> tuple[etree._Element, tuple[str, ...]]:
    """The root element. Slightly broken XML is read leniently, with a warning."""
    if _ENTITY_DECL.search(body[:_CHUNK]):
        raise ParseError(url, "not a sitemap: declares XML entities (refused: a sitemap "
                              "needs none, and they are how entity-expansion attacks work)")
    try:
        return etree.fromstring(body, _xml_parser(False)), ()
    except etree.XMLSyntaxError as exc:
        message = _syntax_message(exc)
    warning = (message + _LENIENT,)
    try:  # the usual fault: a bare "&" in a URL's query (sitemaps.org asks for &amp;)
        return etree.fromstring(_BARE_AMP.sub(b"&amp;", body), _xml_parser(False)), warning
    except etree.XMLSyntaxError:
        pass
    try:
        root = etree.fromstring(body, _xml_parser(True))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise ParseError(url, f"not a sitemap: {message}")
    return root, warning


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):  # comments, processing instructions, entity references
        return ""
    return etree.QName(tag).localname


def _kids(el: etree._Element) -> dict[str, etree._Element]:
    """Direct children by local name (first one wins)."""
    kids: dict[str, etree._Element] = {}
    for child in el:
        kids.setdefault(_local(child), child)
    return kids


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    text = " ".join("".join(el.itertext()).split())
    return text or None


# --- sitemap documents -----------------------------------------------------------------

def parse_sitemap(body: bytes, base_url: str, *, since: datetime | None = None,
                  max_entries: int = 2000, max_url_length: int = 2048,
                  max_bytes: int = MAX_BYTES) -> SitemapDoc:
    """Read a ``<urlset>`` or ``<sitemapindex>`` (plain or gzip).

    With ``since``, URLs and child sitemaps dated before it are skipped (undated ones are
    kept). Over ``max_entries``, the most recent are kept, in document order.
    """
    body, unread = keep_first(_plain_body(body, base_url, max_bytes), _ITEM_TAG, _TAIL, MAX_URLS)
    root, warnings = _parse_xml(body, base_url)
    limits = _Limits(since, max_entries, max_url_length)
    name = _local(root)
    cut = bool(warnings) and not _CLOSED.search(body[-256:])
    if name == "urlset":
        doc = _urlset(_items(root, "url", cut), base_url, limits, warnings)
    elif name == "sitemapindex":
        doc = _index(_items(root, "sitemap", cut), base_url, limits, warnings)
    else:
        hint = "looks like an HTML page" if name.lower() == "html" else f"root element <{name}>"
        raise ParseError(base_url, f"not a sitemap: {hint}")
    if warnings and not (doc.entries or doc.children or doc.skipped):
        # Broken XML that yielded nothing is a failure, not an empty sitemap.
        raise ParseError(base_url, f"not a sitemap: {warnings[0].removesuffix(_LENIENT)}")
    if unread:
        doc = replace(doc, dropped=doc.dropped + unread, warnings=doc.warnings + (
            f"{unread} URLs past the first {MAX_URLS} left unread (the protocol's limit)",))
    return doc


def _plain_body(body: bytes, url: str, max_bytes: int) -> bytes:
    """The body gunzipped if need be, within ``max_bytes``, and not empty."""
    if is_gzip(body):
        body = gunzip(body, url, max_bytes=max_bytes)
    if len(body) > max_bytes:
        raise ParseError(url, f"sitemap larger than {max_bytes} bytes; refused",
                         kind="too_large")
    if not body.strip():
        raise ParseError(url, "not a sitemap: empty body")
    return body


@dataclass(frozen=True)
class _Limits:
    since: datetime | None
    max_entries: int
    max_url_length: int

    def too_old(self, when: datetime | None) -> bool:
        return self.since is not None and when is not None and when < _as_utc(self.since)


def _url_entry(el: etree._Element, base_url: str) -> FeedEntry | None:
    kids = _kids(el)
    url = absolute_http_url(_text(kids.get("loc")), base_url)
    if url is None:
        return None
    news = _kids(kids["news"]) if "news" in kids else {}
    publication = _kids(news["publication"]) if "publication" in news else {}
    published = w3c_datetime(_text(news.get("publication_date")))
    return FeedEntry(key=url_key(url), url=url, title=_text(news.get("title")),
                     published=published or w3c_datetime(_text(kids.get("lastmod"))),
                     publisher_name=_text(publication.get("name")))


def _items(root: etree._Element, name: str, cut: bool) -> tuple[list[etree._Element], int]:
    """Children called ``name``; in a truncated document the last may be cut mid-URL."""
    items = [el for el in root if _local(el) == name]
    return (items[:-1], 1) if cut and items else (items, 0)


def _urlset(items: tuple[list[etree._Element], int], base_url: str, limits: _Limits,
            warnings: tuple[str, ...]) -> SitemapDoc:
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    skipped = 0
    elements, dropped = items
    for el in elements:
        check()
        entry = _url_entry(el, base_url)
        if entry is None or entry.key in seen or len(entry.url or "") > limits.max_url_length:
            dropped += 1
        elif limits.too_old(entry.published):
            skipped += 1
        else:
            seen.add(entry.key)
            entries.append(entry)
    kept = _most_recent(entries, [e.published for e in entries], limits.max_entries)
    return SitemapDoc("urlset", entries=tuple(kept), warnings=warnings,
                      dropped=dropped + len(entries) - len(kept), skipped=skipped)


def _index(items: tuple[list[etree._Element], int], base_url: str, limits: _Limits,
           warnings: tuple[str, ...]) -> SitemapDoc:
    children: list[str] = []
    seen: set[str] = set()
    dates: list[datetime | None] = []
    skipped = 0
    elements, dropped = items
    for el in elements:
        check()
        kids = _kids(el)
        url = absolute_http_url(_text(kids.get("loc")), base_url)
        lastmod = w3c_datetime(_text(kids.get("lastmod")))
        if url is None or url in seen or len(url) > limits.max_url_length:
            dropped += 1
        elif limits.too_old(lastmod):
            skipped += 1
        else:
            seen.add(url)
            children.append(url)
            dates.append(lastmod)
    kept = _most_recent(children, dates, limits.max_entries)
    return SitemapDoc("index", children=tuple(kept), warnings=warnings,
                      dropped=dropped + len(children) - len(kept), skipped=skipped)


def _most_recent(items: list, dates: list[datetime | None], limit: int) -> list:
    """The ``limit`` most recent items (undated count as oldest), in their original order.

    Large sitemaps are often written oldest first, so "the first N" would keep the stalest.
    """
    if len(items) <= limit:
        return list(items)
    floor = datetime.min.replace(tzinfo=timezone.utc)
    order = sorted(range(len(items)), key=lambda i: dates[i] or floor, reverse=True)
    chosen = sorted(order[:limit])
    return [items[i] for i in chosen]
