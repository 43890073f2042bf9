"""A fake newsroom: outlets, feeds and trap routes served by a real HTTP server on loopback.

Integration tests point newswatch at it instead of the internet (tests may connect only to
127.0.0.1 / ::1). One host serves every outlet under a path prefix (``/daily-circuit/...``).
The content lives in ``tests/data/newsroom/``: ``manifest.toml`` (outlets, feeds, articles),
``articles/*.txt`` (texts written for these tests, first line the headline) and
``templates/<outlet>.html`` (each outlet's page boilerplate); the seed articles in
``seeds/`` are published as articles too. Pages are rendered once the port is known, so
canonical links and feed links are absolute.

    with Newsroom() as room:
        room.base_url                 # "http://127.0.0.1:PORT"
        room.articles, room.feeds     # what is published, for expectations
        room.requests_for(path)       # what the client asked for, with its headers
        room.write_config(tmp / "config", tmp / "newswatch.duckdb")

Trap routes under ``/trap/`` (see ``TRAPS``) answer 500, 503 with Retry-After, stall,
drip their body, send broken XML, redirect too often or in a loop, declare a huge
Content-Length, or inflate a small gzip body past the body cap.

``Newsroom(discovery=True)`` also serves the channels of ``discovery.toml``: a
Google-News-like search feed (wrapped links and an article token), a GDELT-like article
list, a news sitemap index named by robots.txt (one gzipped child) and a home page that
names its feed only in ``<link rel="alternate">``, with outlets that ``write_config``
lists nowhere (``room.channels``, ``room.discovery_sources()``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import socket
import sys
import threading
import time
import tomllib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

DATA_DIR = Path(__file__).parent / "data" / "newsroom"
REPO_DIR = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_DIR / "seeds"
STORIES_DIR = REPO_DIR / "config" / "stories"

STALL_SECONDS = 60.0  # far past any client deadline; stop() cuts it short
DRIP_CHUNK = 16  # bytes per write of a dripping body
DRIP_SECONDS = 0.25  # between drips: each read is quick, the whole body is not
STOP_SECONDS = 5.0  # how long stop() waits for handler threads at most
HUGE_LENGTH = 10 << 30  # declared, never sent
BOMB_BYTES = 32 << 20  # what the gzip bomb inflates to (the default cap is 15 MiB)
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Route:
    """How the server answers one path (the query string is ignored)."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None  # an HTTP-date (RFC 9110 section 5.6.7)
    delay: float = 0.0  # seconds before the status line; stop() cuts it short
    gzip: bool = False  # Content-Encoding: gzip when the client accepts it
    chunk_delay: float = 0.0  # write the body DRIP_CHUNK bytes at a time, this far apart
    declared_length: int | None = None  # announce this Content-Length, send body, hang up


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. Header names are lower-cased."""

    method: str
    path: str  # without the query
    target: str  # as sent: path and query
    headers: dict[str, str] = field(hash=False)
    time: float  # time.monotonic() on arrival
    finished: float | None = None  # time.monotonic() once answered; None if dropped
    seq: int = 0  # arrival number, unique within one room


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    domain: str  # a fake registrable domain (.test, RFC 2606); nothing resolves it
    lang: str
    gzip: bool = False  # article pages gzip-encoded when asked
    utc_offset_hours: int = 0  # the zone of article:published_time on its pages
    listed: bool = True  # False: write_config names it nowhere (found only by discovery)
    template: str | None = None  # templates/<template>.html; default: its slug

    @property
    def prefix(self) -> str:
        return f"/{self.slug}/"


@dataclass(frozen=True)
class NewsArticle:
    """One article page of the newsroom, and what tests may expect of it."""

    slug: str
    outlet: str
    path: str  # URL path of the page: /<outlet>/...
    title: str  # the headline shown on the page and in feeds
    text: str  # the body paragraphs joined by "\n" (the headline not included)
    published: datetime  # UTC
    author: str
    section: str
    seed: str | None  # seed file name when the text is a seed article's
    on_topic: bool  # belongs to the default story
    copy_of: str | None  # slug of the article this one republishes
    canonical_path: str  # the path named by <link rel="canonical">
    redirect: bool = False  # feeds link to /<outlet>/go/<slug>, which 301s here
    late: bool = False  # listed in feeds only after Newsroom.publish(slug)

    @property
    def is_seed(self) -> bool:
        return self.seed is not None

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return tuple(self.text.split("\n"))


@dataclass(frozen=True)
class Feed:
    """A feed (or news sitemap) of one outlet; ``slugs`` lists what it links now."""

    id: str  # the [[source]] id written by write_config
    outlet: str
    path: str  # /<outlet>/...
    format: str  # rss | atom | json | rdf | sitemap
    title: str
    kind: str = "feed"
    section: str | None = None  # only articles of this section
    tracking: str = ""  # query appended to article links
    guid: str = "id"
    etag: bool = False
    last_modified: bool = False
    gzip: bool = False
    optional: bool = False  # left out of sources.toml unless asked for
    advertised: bool = False  # named only by the home page's <link rel="alternate">
    slugs: tuple[str, ...] = ()  # newest first


@dataclass(frozen=True)
class BadSource:
    id: str
    kind: str  # a key of TRAPS
    path: str


# ---------------------------------------------------------------- content


def load_manifest(data_dir: Path = DATA_DIR, seeds_dir: Path = SEEDS_DIR) -> tuple[
    dict[str, Outlet], list[Feed], list[NewsArticle]
]:
    """Outlets, feed definitions and articles described by ``manifest.toml``."""
    manifest = tomllib.loads((data_dir / "manifest.toml").read_text(encoding="utf-8"))
    outlets = {o["slug"]: Outlet(**o) for o in manifest["outlet"]}
    feeds = [_feed(spec) for spec in manifest["feed"]]
    by_slug = {spec["slug"]: spec for spec in manifest["article"]}
    articles = [_article(spec, by_slug, data_dir, seeds_dir) for spec in manifest["article"]]
    return outlets, feeds, articles


def _feed(spec: dict[str, Any]) -> Feed:
    return Feed(**{**spec, "path": f"/{spec['outlet']}/{spec['path']}"})


def _article(
    spec: dict[str, Any], by_slug: dict[str, dict[str, Any]], data_dir: Path, seeds_dir: Path
) -> NewsArticle:
    headline, paragraphs = _headline_and_paragraphs(spec, by_slug, data_dir, seeds_dir)
    canonical = by_slug[spec.get("canonical_of", spec["slug"])]
    return NewsArticle(
        slug=spec["slug"],
        outlet=spec["outlet"],
        path=_page_path(spec),
        title=spec.get("title") or headline or "",
        text="\n".join(paragraphs),
        published=spec["published"].astimezone(timezone.utc),
        author=spec["author"],
        section=spec["section"],
        seed=spec.get("seed"),
        on_topic=spec["on_topic"],
        copy_of=spec.get("copy_of"),
        canonical_path=_page_path(canonical),
        redirect=spec.get("redirect", False),
        late=spec.get("late", False),
    )


def _page_path(spec: dict[str, Any]) -> str:
    return f"/{spec['outlet']}/{spec['path']}"


def _headline_and_paragraphs(
    spec: dict[str, Any], by_slug: dict[str, dict[str, Any]], data_dir: Path, seeds_dir: Path
) -> tuple[str | None, list[str]]:
    """The text source of an article: a seed, a written file, or another article."""
    if "copy_of" in spec:
        original = by_slug[spec["copy_of"]]
        _, paragraphs = _headline_and_paragraphs(original, by_slug, data_dir, seeds_dir)
        return None, paragraphs[: spec.get("keep_paragraphs")]
    source = seeds_dir / spec["seed"] if "seed" in spec else data_dir / "articles" / spec["file"]
    lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if spec.get("headline_line", True):
        return lines[0], lines[1:]
    return None, lines


# ---------------------------------------------------------------- rendering (pure)

Items = list[tuple[NewsArticle, str]]  # each article listed with its link as the feed gives it
EPOCH = datetime(2026, 5, 1, tzinfo=timezone.utc)  # the date of an empty feed


def render_page(
    template: Template, outlet: Outlet, article: NewsArticle, base_url: str,
    related: Iterable[NewsArticle],
) -> bytes:
    """A full HTML page: the outlet's boilerplate around the article body."""
    local = article.published.astimezone(timezone(timedelta(hours=outlet.utc_offset_hours)))
    canonical = base_url + article.canonical_path
    fields = {
        "lang": outlet.lang, "title": article.title, "headline": article.title,
        "site_name": outlet.name, "author": article.author, "section": article.section,
        "published_iso": local.isoformat(), "date_human": f"{local.day} {local:%B %Y}",
        "canonical": canonical, "home": base_url + outlet.prefix.rstrip("/"),
        "description": _shorten(article.paragraphs[0], 200),
    }
    fields = {key: escape(value) for key, value in fields.items()}
    fields["body"] = "\n".join(f"<p>{escape(p)}</p>" for p in article.paragraphs)
    fields["related"] = "\n".join(
        f'<li><a href="{escape(base_url + a.path)}">{escape(a.title)}</a></li>' for a in related
    )
    fields["jsonld"] = _json_ld(article, outlet, local, canonical)
    return template.substitute(fields).encode("utf-8")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "\u2026"


def _json_ld(article: NewsArticle, outlet: Outlet, local: datetime, canonical: str) -> str:
    data = {
        "@context": "https://schema.org", "@type": "NewsArticle",
        "headline": article.title, "datePublished": local.isoformat(),
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": outlet.name},
        "mainEntityOfPage": canonical,
    }
    # "</" would end the <script> element early (HTML spec, script data state).
    return json.dumps(data).replace("</", "<\\/")


def render_home(
    outlet: Outlet, articles: Iterable[NewsArticle], base_url: str,
    alternates: Iterable[Feed] = (),
) -> bytes:
    """An outlet's front page: a plain list of links to its articles, and a
    ``<link rel="alternate">`` for each feed in ``alternates``."""
    items = "\n".join(
        f'<li><a href="{escape(base_url + a.path)}">{escape(a.title)}</a></li>' for a in articles
    )
    links = "".join(
        f'<link rel="alternate" type="{FEED_TYPES[f.format].split(";")[0]}" '
        f'title="{escape(f.title)}" href="{escape(f.path)}">'
        for f in alternates
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="{escape(outlet.lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(outlet.name)}</title>{links}</head>\n<body><h1>{escape(outlet.name)}</h1>"
        f"\n<ul>\n{items}\n</ul>\n</body></html>\n"
    )
    return page.encode("utf-8")


def render_feed(feed: Feed, outlet: Outlet, items: Items, base_url: str) -> bytes:
    """The feed document; ``items`` pairs each article with its link as this feed gives it."""
    render = {"rss": _rss, "atom": _atom, "json": _json_feed, "rdf": _rdf, "sitemap": _sitemap}
    return render[feed.format](feed, outlet, items, base_url).encode("utf-8")


def _x(text: str) -> str:
    return escape(text, quote=True)


def _rss(feed: Feed, outlet: Outlet, items: Items, base: str) -> str:
    entries = "".join(
        f"<item><title>{_x(a.title)}</title><link>{_x(link)}</link>"
        f"{_rss_guid(feed, outlet, a, base)}"
        f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
        f"<dc:creator>{_x(a.author)}</dc:creator><category>{_x(a.section)}</category>"
        f"<description>{_x(_shorten(a.paragraphs[0], 300))}</description></item>\n"
        for a, link in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        f"<channel><title>{_x(feed.title)}</title><link>{_x(base + outlet.prefix)}</link>"
        f"<description>Latest from {_x(outlet.name)}</description>"
        f"<language>{outlet.lang}</language>"
        f'<atom:link href="{_x(base + feed.path)}" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{_feed_date(items, _http_date_of)}</lastBuildDate>\n"
        f"{entries}</channel>\n</rss>\n"
    )


def _http_date_of(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)  # RFC 822 dates, as RSS 2.0 wants


def _rss_guid(feed: Feed, outlet: Outlet, article: NewsArticle, base: str) -> str:
    if feed.guid == "permalink":
        return f'<guid isPermaLink="true">{_x(base + article.path)}</guid>'
    return f'<guid isPermaLink="false">{outlet.domain}:{article.slug}</guid>'


def _feed_date(items: Items, fmt: Callable[[datetime], str]) -> str:
    newest = max((a.published for a, _ in items), default=EPOCH)
    return fmt(newest)


def _atom(feed: Feed, outlet: Outlet, items: Items, base: str) -> str:
    entries = "".join(
        f"<entry><title>{_x(a.title)}</title><id>tag:{outlet.domain},2026:{a.slug}</id>"
        f'<link rel="alternate" type="text/html" href="{_x(link)}"/>'
        f"<published>{a.published.isoformat()}</published>"
        f"<updated>{a.published.isoformat()}</updated>"
        f"<author><name>{_x(a.author)}</name></author>"
        f'<category term="{_x(a.section)}"/>'
        f"<summary>{_x(_shorten(a.paragraphs[0], 300))}</summary></entry>\n"
        for a, link in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:lang="{outlet.lang}">\n<title>{_x(feed.title)}</title>'
        f"<id>tag:{outlet.domain},2026:feed</id>"
        f'<link rel="self" href="{_x(base + feed.path)}"/>'
        f'<link rel="alternate" href="{_x(base + outlet.prefix)}"/>'
        f"<updated>{_feed_date(items, datetime.isoformat)}</updated>\n{entries}</feed>\n"
    )


def _json_feed(feed: Feed, outlet: Outlet, items: Items, base: str) -> str:
    document = {
        "version": "https://jsonfeed.org/version/1.1",  # JSON Feed 1.1
        "title": feed.title,
        "home_page_url": base + outlet.prefix,
        "feed_url": base + feed.path,
        "language": outlet.lang,
        "items": [
            {
                "id": f"{outlet.domain}/{a.slug}", "url": link, "title": a.title,
                "summary": _shorten(a.paragraphs[0], 300),
                "date_published": a.published.isoformat().replace("+00:00", "Z"),
                "authors": [{"name": a.author}], "tags": [a.section],
            }
            for a, link in items
        ],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _rdf(feed: Feed, outlet: Outlet, items: Items, base: str) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{_x(link)}"/>' for _, link in items)
    entries = "".join(
        f'<item rdf:about="{_x(link)}"><title>{_x(a.title)}</title><link>{_x(link)}</link>'
        f"<description>{_x(_shorten(a.paragraphs[0], 300))}</description>"
        f"<dc:date>{a.published.isoformat()}</dc:date>"
        f"<dc:creator>{_x(a.author)}</dc:creator></item>\n"
        for a, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'  # RSS 1.0: items listed in the channel
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f'<channel rdf:about="{_x(base + feed.path)}"><title>{_x(feed.title)}</title>'
        f"<link>{_x(base + outlet.prefix)}</link><description>{_x(outlet.name)}</description>"
        f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n{entries}</rdf:RDF>\n"
    )


def _sitemap(feed: Feed, outlet: Outlet, items: Items, base: str) -> str:
    urls = "".join(
        f"<url><loc>{_x(link)}</loc><lastmod>{a.published.isoformat()}</lastmod><news:news>"
        f"<news:publication><news:name>{_x(outlet.name)}</news:name>"
        f"<news:language>{outlet.lang.split('-')[0]}</news:language></news:publication>"
        f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
        f"<news:title>{_x(a.title)}</news:title></news:news></url>\n"
        for a, link in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        f"{urls}</urlset>\n"
    )


FEED_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json",
    "rdf": "application/rdf+xml",
    "sitemap": "application/xml",
}


# ---------------------------------------------------------------- traps

# kind -> path of a source that fails (or misbehaves) in that way.
TRAPS = {
    "server-error": "/trap/500.xml",
    "busy": "/trap/503.xml",
    "not-found": "/trap/gone.xml",
    "stall": "/trap/stall.xml",
    "drip": "/trap/drip.xml",
    "broken-xml": "/trap/broken.xml",
    "truncated": "/trap/truncated.xml",
    "not-a-feed": "/trap/error-page.xml",
    "too-many-redirects": "/trap/hop/1",
    "redirect-loop": "/trap/loop-a",
    "bad-redirect": "/trap/redirect-file",
    "huge": "/trap/huge.xml",
    "bomb": "/trap/bomb.xml",
}

_SMALL_RSS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Trap Wire</title>'
    "<link>/trap/</link><description>Slow news</description>\n"
    + "".join(
        f"<item><title>Slow story {n}</title><link>/trap/story-{n}.html</link>"
        f"<description>Filler paragraph {n} of a feed that takes its time.</description></item>\n"
        for n in range(1, 6)
    )
    + "</channel></rss>\n"
).encode()

# A mismatched tag, then junk: not even a lenient parser recovers an entry from it.
_BROKEN_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire &amp; Co'
    b"</title><description>Late edition</description></chanel>\n"
    b"<<<\x00>>> Warning: feed cache corrupted\n"
)
# Cut off mid-item: a lenient parser still recovers the first entry.
_TRUNCATED_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Half Wire</title>'
    b"<item><title>First whole story</title><link>/trap/first.html</link></item>\n"
    b"<item><title>Second story, cut of"
)
_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Database error</title></head><body>"
    b"<h1>Error establishing a database connection</h1></body></html>\n"
)


@cache
def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """A gzip member that inflates to ``size`` bytes (an XML prolog, then spaces)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing (RFC 1952)
    head = b'<?xml version="1.0"?>\n'
    chunk = b" " * (1 << 20)
    parts = [packer.compress(head)]
    remaining = size - len(head)
    while remaining > 0:
        parts.append(packer.compress(chunk[: min(remaining, len(chunk))]))
        remaining -= len(chunk)
    return b"".join(parts) + packer.flush()


def trap_routes(base_url: str) -> dict[str, Route]:
    """Every route under /trap/, keyed by path."""
    xml = FEED_TYPES["rss"]
    routes = {
        TRAPS["server-error"]: Route(b"<h1>500 Internal Server Error</h1>", status=500),
        TRAPS["busy"]: Route(b"<h1>503 Service Unavailable</h1>", status=503,
                             headers=(("Retry-After", "120"),)),
        TRAPS["stall"]: Route(_SMALL_RSS, xml, delay=STALL_SECONDS),
        TRAPS["drip"]: Route(_SMALL_RSS, xml, chunk_delay=DRIP_SECONDS),
        TRAPS["broken-xml"]: Route(_BROKEN_XML, xml),
        TRAPS["truncated"]: Route(_TRUNCATED_XML, xml),
        TRAPS["not-a-feed"]: Route(_ERROR_PAGE, "text/html; charset=UTF-8"),
        TRAPS["huge"]: Route(_SMALL_RSS[:512], xml, declared_length=HUGE_LENGTH),
        TRAPS["bomb"]: Route(gzip_bomb(), xml, headers=(("Content-Encoding", "gzip"),)),
        TRAPS["bad-redirect"]: redirect("file:///etc/passwd", 302),
        "/trap/loop-a": redirect(base_url + "/trap/loop-b"),
        "/trap/loop-b": redirect(base_url + "/trap/loop-a"),
        "/trap/feed.xml": Route(_SMALL_RSS, xml),
    }
    routes.update(redirect_chain("/trap/hop", 6, base_url + "/trap/feed.xml", base_url))
    routes.update(redirect_chain("/trap/ok-hop", 3, base_url + "/trap/feed.xml", base_url))
    return routes


def redirect(location: str, status: int = 301) -> Route:
    body = f'<a href="{escape(location)}">Moved</a>'.encode()
    return Route(body, status=status, headers=(("Location", location),))


def redirect_chain(prefix: str, hops: int, target: str, base_url: str) -> dict[str, Route]:
    """``prefix/1`` -> ``prefix/2`` -> ... -> ``prefix/hops`` -> target: ``hops`` redirects."""
    routes = {f"{prefix}/{n}": redirect(f"{base_url}{prefix}/{n + 1}", 302) for n in range(1, hops)}
    routes[f"{prefix}/{hops}"] = redirect(target, 301)
    return routes


ROBOTS_TXT = b"""# RFC 9309
User-agent: *
Disallow: /private/
Disallow: /harbor-tribune/members/
Allow: /
"""


# ---------------------------------------------------------------- discovery channels

WRAPPER = "https://www.google.com/url"  # never contacted: newswatch unwraps it offline
TOKEN_PREFIX = "https://news.google.com/rss/articles/"  # never contacted either


@dataclass(frozen=True)
class SitemapChild:
    path: str
    outlet: str
    gzip: bool = False  # the file itself is gzip (application/x-gzip), not a Content-Encoding
    stale: tuple[tuple[str, str, datetime], ...] = ()  # (path, title, published) too old to take


@dataclass(frozen=True)
class Channels:
    """The discovery channels of ``discovery.toml``."""

    search_path: str
    search_items: tuple[tuple[str, str], ...]  # (article slug, "wrapped" | "token")
    gdelt_path: str
    gdelt_slugs: tuple[str, ...]
    index_path: str
    children: tuple[SitemapChild, ...]


def load_discovery(data_dir: Path = DATA_DIR) -> tuple[
    dict[str, Outlet], list[Feed], list[NewsArticle], Channels
]:
    doc = tomllib.loads((data_dir / "discovery.toml").read_text(encoding="utf-8"))
    outlets = {o["slug"]: Outlet(**o) for o in doc["outlet"]}
    by_slug = {spec["slug"]: spec for spec in doc["article"]}
    articles = [_article(spec, by_slug, data_dir, SEEDS_DIR) for spec in doc["article"]]
    children = tuple(
        SitemapChild(c["path"], c["outlet"], c.get("gzip", False), tuple(
            (x["path"], x["title"], x["published"].astimezone(timezone.utc))
            for x in c.get("stale", ())
        ))
        for c in doc["sitemaps"]["child"]
    )
    channels = Channels(
        search_path=doc["search"]["path"],
        search_items=tuple((i["slug"], i["link"]) for i in doc["search"]["items"]),
        gdelt_path=doc["gdelt"]["path"], gdelt_slugs=tuple(doc["gdelt"]["slugs"]),
        index_path=doc["sitemaps"]["index"], children=children,
    )
    return outlets, [_feed(f) for f in doc["feed"]], articles, channels


def wrapped_link(page_url: str) -> str:
    """A Google redirect wrapper around ``page_url`` (as in Google Alerts and News)."""
    return f"{WRAPPER}?rct=j&sa=t&url={quote(page_url, safe='')}&ct=ga&usg=AOvVaw0"


def token_link(slug: str) -> str:
    """A Google News article token link: only Google could say where it leads."""
    return f"{TOKEN_PREFIX}CBMi{hashlib.sha256(slug.encode()).hexdigest()[:40]}?oc=5"


def _search_rss(room: Newsroom, ch: Channels) -> str:
    items = []
    for slug, how in ch.search_items:
        a = room.article(slug)
        outlet = room.outlets[a.outlet]
        link = wrapped_link(room.url(a.path)) if how == "wrapped" else token_link(slug)
        items.append(
            f"<item><title>{_x(a.title)} - {_x(outlet.name)}</title><link>{_x(link)}</link>"
            f'<guid isPermaLink="false">{hashlib.sha256(slug.encode()).hexdigest()[:24]}</guid>'
            f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
            f"<description>{_x(a.title)} {_x(outlet.name)}</description>"
            f'<source url="{_x(room.url(outlet.prefix))}">{_x(outlet.name)}</source></item>\n'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Search results - News search</title><link>https://news.google.com/</link>"
        "<description>News search</description>\n" + "".join(items) + "</channel></rss>\n"
    )


def _gdelt_json(room: Newsroom, ch: Channels) -> str:
    articles = [
        {"url": room.url(a.path), "url_mobile": "", "title": a.title,
         "seendate": a.published.strftime("%Y%m%dT%H%M%SZ"), "socialimage": "",
         "domain": room.outlets[a.outlet].domain, "language": "English", "sourcecountry": ""}
        for a in (room.article(slug) for slug in ch.gdelt_slugs)
    ]
    return json.dumps({"articles": articles}, indent=1) + "\n"


def _news_urlset(room: Newsroom, child: SitemapChild) -> str:
    outlet = room.outlets[child.outlet]
    rows = [(room.url(a.path), a.title, a.published) for a in room.articles if a.outlet == child.outlet]
    rows += [(room.url(path), title, when) for path, title, when in child.stale]
    urls = "".join(
        f"<url><loc>{_x(loc)}</loc><news:news><news:publication><news:name>{_x(outlet.name)}"
        f"</news:name><news:language>{outlet.lang.split('-')[0]}</news:language>"
        f"</news:publication><news:publication_date>{when.isoformat()}</news:publication_date>"
        f"<news:title>{_x(title)}</news:title></news:news></url>\n"
        for loc, title, when in rows
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset '
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + urls + "</urlset>\n"
    )


def _sitemap_index(room: Newsroom, ch: Channels) -> str:
    entries = "".join(f"<sitemap><loc>{_x(room.url(c.path))}</loc></sitemap>\n" for c in ch.children)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + entries + "</sitemapindex>\n"
    )


def channel_routes(room: Newsroom, ch: Channels) -> dict[str, Route]:
    """The search feed, the GDELT list, robots.txt with its Sitemap line, the index and
    its children."""
    robots = ROBOTS_TXT + f"Sitemap: {room.url(ch.index_path)}\n".encode()
    routes = {
        "/robots.txt": Route(robots, "text/plain; charset=utf-8"),
        ch.search_path: Route(_search_rss(room, ch).encode(), FEED_TYPES["rss"]),
        ch.gdelt_path: Route(_gdelt_json(room, ch).encode(), "application/json; charset=utf-8"),
        ch.index_path: Route(_sitemap_index(room, ch).encode(), FEED_TYPES["sitemap"]),
    }
    for child in ch.children:
        body = _news_urlset(room, child).encode()
        routes[child.path] = (
            Route(gzip.compress(body, mtime=0), "application/x-gzip") if child.gzip
            else Route(body, FEED_TYPES["sitemap"])
        )
    return routes


# ---------------------------------------------------------------- HTTP


def not_modified(route: Route, headers: Mapping[str, str], method: str) -> bool:
    """Whether a conditional request gets 304 (RFC 9110 section 13.2.2).

    If-None-Match is evaluated first, with the weak comparison (section 13.1.2);
    If-Modified-Since only when there is no If-None-Match, and only for GET and HEAD.
    """
    if route.status != 200:
        return False
    match = headers.get("If-None-Match")
    if match is not None:
        return route.etag is not None and _etag_matches(match, route.etag)
    since = _http_date(headers.get("If-Modified-Since"))
    modified = _http_date(route.last_modified)
    if since is None or modified is None or method not in ("GET", "HEAD"):
        return False
    return modified <= since


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(tag) for tag in header.split(",")}


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _http_date(value: str | None) -> datetime | None:
    """Parse an HTTP-date; an invalid one is ignored (RFC 9110 section 13.1.3)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip; ``q=0`` means "not acceptable" (RFC 9110 12.5.3)."""
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            return re.search(r"q\s*=\s*0(\.0*)?\s*$", params.strip()) is None
    return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without TCP_NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and every answer waits ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the room records requests; stderr noise would only hide test output

    def _answer(self, send_body: bool) -> None:
        room = self.server.room
        seq = room._record(self)
        route = room.route(urlsplit(self.path).path)
        if route.delay and room._stopping.wait(route.delay):
            self.close_connection = True
            return
        try:
            self._send(route, send_body)
        except ConnectionError:  # the client gave up (a timeout under test): expected
            self.close_connection = True
            return
        room._mark_finished(seq)

    def _send(self, route: Route, send_body: bool) -> None:
        if not_modified(route, self.headers, self.command):
            self._head(304, route, None, None)  # no body, no Content-Length (RFC 9110 15.4.5)
            return
        body, encoding = route.body, None
        if route.gzip and accepts_gzip(self.headers.get("Accept-Encoding", "")):
            body, encoding = gzip.compress(route.body, mtime=0), "gzip"
        declared = route.declared_length if route.declared_length is not None else len(body)
        self._head(route.status, route, declared, encoding)
        if send_body:
            self._write(body, route.chunk_delay)
        if route.declared_length is not None:
            self.close_connection = True  # the rest of the declared body never comes

    def _head(self, status: int, route: Route, length: int | None, encoding: str | None) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", route.content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if route.gzip:
            self.send_header("Vary", "Accept-Encoding")
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        for name, value in route.headers:
            self.send_header(name, value)
        self.end_headers()

    def _write(self, body: bytes, chunk_delay: float) -> None:
        if not chunk_delay:
            self.wfile.write(body)
            return
        for start in range(0, len(body), DRIP_CHUNK):
            if self.server.room._stopping.wait(chunk_delay):
                self.close_connection = True
                return
            self.wfile.write(body[start : start + DRIP_CHUNK])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, room: Newsroom) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.room = room
        self._open: set[socket.socket] = set()  # one per live handler thread
        self._open_changed = threading.Condition()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_changed:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._open_changed:
            self._open.discard(request)
            self._open_changed.notify_all()

    def drop_connections(self) -> None:
        """Hang up on every client, so idle keep-alive handlers end with the server."""
        with self._open_changed:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every handler thread has finished; False if some still run."""
        with self._open_changed:
            return self._open_changed.wait_for(lambda: not self._open, timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # clients hanging up mid-answer are part of the tests
        super().handle_error(request, client_address)


class Newsroom:
    """The newsroom server. Bound on construction (so ``base_url`` is known), served by
    ``start()`` in a daemon thread, stopped by ``stop()``; also a context manager."""

    def __init__(
        self, data_dir: Path = DATA_DIR, seeds_dir: Path = SEEDS_DIR, *, discovery: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._arrivals = 0
        self._released: set[str] = set()
        self._thread: threading.Thread | None = None
        self._server = _Server(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.bad_sources: list[BadSource] = []
        try:
            self.outlets, self._feed_specs, self.articles = load_manifest(data_dir, seeds_dir)
            self.channels: Channels | None = None
            if discovery:
                self.channels = self._add_discovery(data_dir)
            self._templates = {
                slug: Template(
                    (data_dir / "templates" / f"{o.template or slug}.html").read_text("utf-8")
                )
                for slug, o in self.outlets.items()
            }
            self._build_site()
        except BaseException:
            self._server.server_close()  # do not leak the bound socket
            raise

    # -- life cycle

    def start(self) -> Newsroom:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="newsroom", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the handlers; stalls and drips are cut short at once."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=STOP_SECONDS)
        self._server.drop_connections()
        self._server.wait_idle(STOP_SECONDS)
        self._server.server_close()

    def __enter__(self) -> Newsroom:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- routes

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str) -> Route:
        with self._lock:
            found = self._routes.get(path)
        return found or Route(b"<h1>404 Not Found</h1>", status=404)

    def set_route(self, path: str, route: Route | None = None, /, **fields: Any) -> Route:
        """Serve ``path`` with ``route``, or with a Route built from ``fields``
        (``body`` may be str; ``headers`` may be a dict)."""
        if route is None:
            route = _route_from(fields)
        with self._lock:
            self._routes[path] = route
        return route

    def remove_route(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    # -- what was asked

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests for ``path`` (compared without the query string)."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, handler: BaseHTTPRequestHandler) -> int:
        with self._lock:
            self._arrivals += 1
            self._requests.append(RecordedRequest(
                method=handler.command, path=urlsplit(handler.path).path, target=handler.path,
                headers={name.lower(): value for name, value in handler.headers.items()},
                time=time.monotonic(), seq=self._arrivals,
            ))
            return self._arrivals

    def _mark_finished(self, seq: int) -> None:
        with self._lock:  # found by number: clear_requests() may have run meanwhile
            for index in range(len(self._requests) - 1, -1, -1):
                record = self._requests[index]
                if record.seq == seq:
                    self._requests[index] = replace(record, finished=time.monotonic())
                    return

    # -- content

    def _add_discovery(self, data_dir: Path) -> Channels:
        outlets, feeds, articles, channels = load_discovery(data_dir)
        self.outlets.update(outlets)
        self._feed_specs += feeds
        self.articles += articles
        return channels

    def discovery_sources(self, story: str = "rsi-pause") -> list[dict[str, str]]:
        """[[source]] tables for the discovery channels (``discovery=True`` only): the
        search feed and the GDELT list with {query}, the site root as a sitemap source
        (its robots.txt names the index), and the home page that advertises a feed."""
        assert self.channels is not None, "Newsroom(discovery=True) serves these"
        ch = self.channels
        advertised = next(f for f in self._feed_specs if f.advertised)
        return [
            {"id": "news-search", "kind": "search", "story": story,
             "url": self.url(ch.search_path) + "?q={query}&hl=en-US&gl=US&ceid=US:en"},
            {"id": "gdelt-artlist", "kind": "search", "story": story,
             "url": self.url(ch.gdelt_path) + "?query={query}&mode=artlist&format=json"},
            {"id": "site-sitemaps", "kind": "sitemap", "url": self.base_url + "/"},
            {"id": f"{advertised.outlet}-home", "kind": "page",
             "url": self.url(self.outlets[advertised.outlet].prefix)},
        ]

    def article(self, slug: str) -> NewsArticle:
        return next(a for a in self.articles if a.slug == slug)

    def live_articles(self) -> list[NewsArticle]:
        """Articles listed in feeds now (late ones only once published)."""
        return [a for a in self.articles if not a.late or a.slug in self._released]

    @property
    def feeds(self) -> list[Feed]:
        """Every feed with the slugs it lists now, newest first."""
        return [replace(f, slugs=tuple(a.slug for a in self._listed(f))) for f in self._feed_specs]

    def feed(self, feed_id: str) -> Feed:
        return next(f for f in self.feeds if f.id == feed_id)

    def feed_link(self, feed: Feed, article: NewsArticle) -> str:
        """The absolute link to ``article`` as ``feed`` gives it."""
        if feed.format == "sitemap":
            return self.base_url + article.path  # sitemaps list the pages themselves
        path = f"/{article.outlet}/go/{article.slug}" if article.redirect else article.path
        query = f"?{feed.tracking}" if feed.tracking else ""
        return self.base_url + path + query

    def publish(self, slug: str) -> None:
        """List a late article in its outlet's feeds (a new story for the next poll)."""
        self._released.add(self.article(slug).slug)
        self._build_feeds()

    def _listed(self, feed: Feed) -> list[NewsArticle]:
        chosen = [
            a for a in self.live_articles()
            if a.outlet == feed.outlet and feed.section in (None, a.section)
        ]
        return sorted(chosen, key=lambda a: a.published, reverse=True)

    def _build_site(self) -> None:
        routes = {"/robots.txt": Route(ROBOTS_TXT, "text/plain; charset=utf-8")}
        routes.update(trap_routes(self.base_url))
        for article in self.articles:
            routes.update(self._article_routes(article))
        if self.channels is not None:
            routes.update(channel_routes(self, self.channels))
        with self._lock:
            self._routes.update(routes)
        self._build_feeds()

    def _article_routes(self, article: NewsArticle) -> dict[str, Route]:
        outlet = self.outlets[article.outlet]
        related = [
            a for a in self.live_articles() if a.outlet == article.outlet and a.slug != article.slug
        ][:4]
        body = render_page(self._templates[outlet.slug], outlet, article, self.base_url, related)
        page = Route(
            body, etag=_etag(body), last_modified=format_datetime(article.published, usegmt=True),
            gzip=outlet.gzip,
        )
        routes = {article.path: page}
        if article.redirect:
            routes[f"/{article.outlet}/go/{article.slug}"] = redirect(article.path)
        return routes

    def _build_feeds(self) -> None:
        routes = {
            outlet.prefix: Route(render_home(
                outlet, self._home_list(slug), self.base_url,
                [f for f in self._feed_specs if f.outlet == slug and f.advertised],
            ))
            for slug, outlet in self.outlets.items()
        }
        for feed in self._feed_specs:
            routes[feed.path] = self._feed_route(feed)
        with self._lock:
            self._routes.update(routes)

    def _home_list(self, outlet: str) -> list[NewsArticle]:
        return sorted(
            (a for a in self.live_articles() if a.outlet == outlet),
            key=lambda a: a.published, reverse=True,
        )

    def _feed_route(self, feed: Feed) -> Route:
        listed = self._listed(feed)
        items = [(a, self.feed_link(feed, a)) for a in listed]
        body = render_feed(feed, self.outlets[feed.outlet], items, self.base_url)
        newest = max(a.published for a in listed)
        return Route(
            body, FEED_TYPES[feed.format], gzip=feed.gzip,
            etag=_etag(body) if feed.etag else None,
            last_modified=format_datetime(newest, usegmt=True) if feed.last_modified else None,
        )

    # -- sources that fail

    def add_bad_sources(
        self, kinds: Iterable[str] = ("server-error", "stall", "broken-xml")
    ) -> dict[str, str]:
        """Register failing feeds for write_config; returns kind -> source id."""
        added = {}
        for kind in kinds:
            source = BadSource(id=f"bad-{kind}", kind=kind, path=TRAPS[kind])
            if source not in self.bad_sources:
                self.bad_sources.append(source)
            added[kind] = source.id
        return added

    # -- configuration

    def write_config(
        self, config_dir: Path, warehouse: Path, *, allow_loopback: bool = True,
        stories_dir_from: Path | None = None, smtp_port: int | None = None,
        include_sitemaps: bool = False, http: Mapping[str, Any] | None = None,
        extra_sources: Iterable[Mapping[str, Any]] = (),
    ) -> Path:
        """Write newswatch.toml, sources.toml and stories/ for a run against this room.

        ``http`` overrides settings of the [http] table (e.g. max_body_bytes);
        ``extra_sources`` are more [[source]] tables (e.g. ``discovery_sources()``).
        """
        config_dir.mkdir(parents=True, exist_ok=True)
        settings = _settings_toml(warehouse, allow_loopback, smtp_port, dict(http or {}))
        (config_dir / "newswatch.toml").write_text(settings, encoding="utf-8")
        sources = self._sources_toml(include_sitemaps)
        sources += "\n".join(line for src in extra_sources for line in _table("source", src))
        (config_dir / "sources.toml").write_text(sources, encoding="utf-8")
        write_stories(config_dir / "stories", stories_dir_from or STORIES_DIR, SEEDS_DIR)
        return config_dir

    def _sources_toml(self, include_sitemaps: bool) -> str:
        lines = ["# Written by tests/newsroom.py: the loopback newsroom's outlets and feeds.", ""]
        for outlet in (o for o in self.outlets.values() if o.listed):
            lines += _table("outlet", {
                "id": outlet.slug, "name": outlet.name, "domains": [outlet.domain],
                "url_prefixes": [self.base_url + outlet.prefix],
            })
        for feed in self._feed_specs:
            if (include_sitemaps or not feed.optional) and not feed.advertised:
                lines += _table("source", {
                    "id": feed.id, "kind": feed.kind, "url": self.url(feed.path),
                    "outlet": feed.outlet,
                })
        for bad in self.bad_sources:
            lines += _table("source", {"id": bad.id, "kind": "feed", "url": self.url(bad.path)})
        return "\n".join(lines)


def _route_from(fields: dict[str, Any]) -> Route:
    if isinstance(fields.get("body"), str):
        fields["body"] = fields["body"].encode("utf-8")
    if isinstance(fields.get("headers"), Mapping):
        fields["headers"] = tuple(fields["headers"].items())
    return Route(**fields)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


# ---------------------------------------------------------------- configuration files


def toml_value(value: Any) -> str:
    """A Python value as TOML (shared with conftest's config edits)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def _table(name: str, values: Mapping[str, Any], array: bool = True) -> list[str]:
    header = f"[[{name}]]" if array else f"[{name}]"
    return [header, *(f"{key} = {toml_value(v)}" for key, v in values.items()), ""]


def _settings_toml(
    warehouse: Path, allow_loopback: bool, smtp_port: int | None, http: dict[str, Any]
) -> str:
    http_table = {
        "user_agent": "newswatch-tests/0.1 (+http://127.0.0.1/)",
        # Loopback answers in milliseconds; short deadlines keep the stall trap cheap.
        "connect_timeout": 1.0, "feed_timeout": 2.0, "page_timeout": 2.0,
        "max_body_bytes": 15728640, "max_redirects": 5,
        "allow_networks": list(LOOPBACK_NETWORKS) if allow_loopback else [],
    }
    http_table.update(http)
    lines = ["# Written by tests/newsroom.py for a run against the loopback newsroom.", ""]
    lines += _table("warehouse", {"path": str(warehouse.resolve())}, array=False)
    lines += _table("http", http_table, array=False)
    lines += _table("schedule", {"interval_minutes": 30}, array=False)
    lines += _table("digest", {
        "time": "07:00", "timezone": "Europe/London",
        "recipients": ["editor@newsroom.test"], "sender": "newswatch@newsroom.test",
    }, array=False)
    lines += _table("smtp", {
        "host": "127.0.0.1", "port": smtp_port or 2525, "security": "none",
    }, array=False)
    return "\n".join(lines)


_REFERENCE_LINE = re.compile(r"^reference\s*=.*$", re.MULTILINE)

_FALLBACK_STORY = """\
# Written by tests/newsroom.py because config/stories/ held no story yet.
id = "rsi-pause"
name = "Anthropic: when AI builds itself"
window_start = 2026-06-01
{reference}
query = "Anthropic recursive self-improvement pause"
"""


_COUNTER_LINE = re.compile(r"^counter_reference\s*=\s*\"([^\"]+)\"\s*$", re.MULTILINE)


def _absolute_counter(match: re.Match[str], config_dir: Path) -> str:
    """The story's counter-example folder, made absolute against its own config folder."""
    return f"counter_reference = {toml_value(str((config_dir / match.group(1)).resolve()))}"


def write_stories(target: Path, source: Path, seeds: Path) -> list[Path]:
    """Copy the story files with ``reference`` pointing at the seeds' absolute path."""
    target.mkdir(parents=True, exist_ok=True)
    reference = f"reference = {toml_value(str(seeds.resolve()))}"
    stories = sorted(source.glob("*.toml")) if source.is_dir() else []
    if not stories:
        fallback = target / "rsi-pause.toml"
        fallback.write_text(_FALLBACK_STORY.format(reference=reference), encoding="utf-8")
        return [fallback]
    written = []
    for story in stories:
        text = _REFERENCE_LINE.sub(lambda _: reference, story.read_text(encoding="utf-8"))
        text = _COUNTER_LINE.sub(lambda m: _absolute_counter(m, story.parent.parent), text)
        (target / story.name).write_text(text, encoding="utf-8")
        written.append(target / story.name)
    return written
