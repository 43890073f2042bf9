"""What a URL serves, and where a site keeps its feeds.

``sniff_kind`` tells a feed from a sitemap, a JSON Feed, a search-API answer or a web page
by looking at the bytes (servers often mislabel feeds, so the content type only breaks
ties). ``discover_feeds`` reads the ``<link rel="alternate">`` tags of an HTML page
(https://html.spec.whatwg.org/#rel-alternate); ``candidate_feed_urls`` lists the usual
places to try when a page declares none. Pure: no I/O.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from pipeline.acquire import sitemaps

# Declared types that announce a feed, and the kind of feed each one is.
FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rdf",
    "application/feed+json": "json",
    "application/json": "json",
}

COMMON_FEED_PATHS = (
    "/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml",
    "/feeds/posts/default", "/feed/atom", "/index.rss", "/atom",
)

JSONFEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
_FEED_ROOTS = {"rss", "rdf", "feed"}  # RSS 0.9x/2.0, RSS 1.0 (rdf:RDF), Atom
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_HEAD = 16 * 1024
_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")
# Things allowed before the root element, with the text that closes each.
_PROLOG_PARTS = (("<?", "?>"), ("<!--", "-->"), ("<!doctype", ">"))
_JSONFEED_VERSION = re.compile(r'"version"\s*:\s*"https://jsonfeed\.org/version/')
_ARTICLES_LIST = re.compile(r'^\s*\{\s*"articles"\s*:\s*\[')
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class DiscoveredFeed:
    """A feed declared by a page: absolute ``url``, its ``title`` and declared MIME ``type``."""

    url: str
    title: str | None
    type: str


# --- sniffing --------------------------------------------------------------------------

def media_type(content_type: str | None) -> str:
    """``"Application/RSS+XML; charset=utf-8"`` -> ``"application/rss+xml"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _head_text(body: bytes) -> str:
    head = body[:_HEAD]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    # Markup is ASCII in every other encoding a feed may use; latin-1 never fails.
    return head.decode("latin-1").removeprefix("\xef\xbb\xbf")


def root_element(body: bytes) -> str | None:
    """Local name of the first element (prolog, comments and DOCTYPE skipped), lowercased."""
    text = _head_text(body)
    pos = _after_prolog(text)
    match = _ELEMENT.match(text, pos) if pos >= 0 else None
    return match[1].rsplit(":", 1)[-1].lower() if match else None


def _after_prolog(text: str) -> int:
    """Index of the first element's "<", or -1 when the head ends inside the prolog."""
    pos = 0
    while True:
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        part = next((p for p in _PROLOG_PARTS if text[pos:pos + len(p[0])].lower() == p[0]),
                    None)
        if part is None:
            return pos
        end = _prolog_end(text, pos, part[1])
        if end < 0:
            return -1
        pos = end


def _prolog_end(text: str, pos: int, closer: str) -> int:
    if closer == ">":  # a DOCTYPE may carry an internal subset in [...]
        bracket, close = text.find("[", pos), text.find(">", pos)
        if 0 <= bracket < close:
            pos = text.find("]", bracket)
            if pos < 0:
                return -1
    end = text.find(closer, pos)
    return end + len(closer) if end >= 0 else -1


def looks_like_json(body: bytes) -> bool:
    return _head_text(body).lstrip()[:1] in ("{", "[")


def looks_like_markup(body: bytes) -> bool:
    return _head_text(body).lstrip()[:1] == "<"


def json_kind(doc: object) -> str:
    """"json-feed", "search-json" (a GDELT-style ``articles`` list) or "unknown"."""
    if not isinstance(doc, dict):
        return "unknown"
    version = doc.get("version")
    if isinstance(version, str) and version.startswith(JSONFEED_VERSION_PREFIX):
        return "json-feed"
    if isinstance(doc.get("articles"), list) or doc == {}:  # GDELT answers {} for no hits
        return "search-json"
    return "unknown"


def sniff_kind(body: bytes, content_type: str | None) -> str:
    """"feed" | "sitemap" | "page" | "json-feed" | "search-json" | "unknown"."""
    if sitemaps.is_gzip(body):
        body = sitemaps.gunzip_head(body)
    if looks_like_json(body):
        return _sniff_json(body)
    root = root_element(body)
    if root in _FEED_ROOTS:
        return "feed"
    if root in _SITEMAP_ROOTS:
        return "sitemap"
    if root == "html" or media_type(content_type) in ("text/html", "application/xhtml+xml"):
        return "page"
    return "unknown"


def _sniff_json(body: bytes) -> str:
    try:
        return json_kind(json.loads(body, strict=False))
    # ValueError includes UnicodeDecodeError, the head of a large gzip body and numbers past
    # Python's 4,300 digits; RecursionError is JSON nested too deep for the parser.
    except (ValueError, RecursionError):
        head = _head_text(body)
    if _JSONFEED_VERSION.search(head):
        return "json-feed"
    return "search-json" if _ARTICLES_LIST.search(head) else "unknown"


# --- discovery in HTML -----------------------------------------------------------------

class _LinkCollector(HTMLParser):
    """Collects the attributes of every ``<link>`` and the first ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "link":
            self.links.append(values)
        elif tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]


def _decode_html(html: bytes | str) -> str:
    if isinstance(html, str):
        return html
    match = _META_CHARSET.search(html[:_HEAD])
    encoding = match[1].decode("ascii") if match else "utf-8"
    try:
        return html.decode(encoding, errors="replace")
    except LookupError:  # an unknown charset name
        return html.decode("utf-8", errors="replace")


def _as_feed(attrs: dict[str, str], base_url: str) -> DiscoveredFeed | None:
    rels = attrs.get("rel", "").lower().split()
    kind = media_type(attrs.get("type"))
    href = sitemaps.absolute_http_url(attrs.get("href"), base_url)
    if "alternate" not in rels or kind not in FEED_TYPES or href is None:
        return None
    if kind == "application/json" and "/wp-json/" in urlsplit(href).path:
        return None  # WordPress announces its REST API this way; it is not a feed
    title = " ".join(attrs.get("title", "").split()) or None
    return DiscoveredFeed(url=urldefrag(href).url, title=title, type=kind)


def _rank(feed: DiscoveredFeed) -> tuple[bool, bool]:
    # Comment feeds and plain-JSON links last; sorted() is stable, so page order otherwise.
    text = f"{feed.title or ''} {feed.url}".lower()
    return ("comment" in text, feed.type == "application/json")


def discover_feeds(html: bytes | str, base_url: str) -> list[DiscoveredFeed]:
    """Feeds an HTML page declares, absolute, deduplicated, comment feeds last."""
    collector = _LinkCollector()
    collector.feed(_decode_html(html))
    collector.close()
    base = urljoin(base_url, collector.base) if collector.base else base_url
    found: dict[str, DiscoveredFeed] = {}
    for attrs in collector.links:
        feed = _as_feed(attrs, base)
        if feed is not None:
            found.setdefault(feed.url, feed)
    return sorted(found.values(), key=_rank)


def candidate_feed_urls(base_url: str) -> list[str]:
    """Common feed locations to try: under the page's directory first, then the site root."""
    parts = urlsplit(base_url)
    root = f"{parts.scheme}://{parts.netloc}/"
    directory = parts.path[: parts.path.rfind("/") + 1] if parts.path else "/"
    bases = [root] if directory in ("", "/") else [urljoin(root, directory), root]
    urls: list[str] = []
    for base in bases:
        for path in COMMON_FEED_PATHS:
            url = base.rstrip("/") + path
            if url not in urls:
                urls.append(url)
    return urls
