"""The hostile web, served on loopback: documents and answers written to hurt a crawler.

Everything here is generated in the test (no third-party text). ``install(room)`` adds
the hostile routes to a ``Newsroom`` under ``/h/`` and returns the ``[[source]]`` tables
that point at them, each named after the class of attack it is. Addresses that must
never be contacted are served by a ``Trap`` on ::1 (loopback: tests connect nowhere but
127.0.0.1 and ::1) and named through spellings of that address or a made-up public-
looking host name, which ``RESOLVER_STUB`` answers with ::1.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from conftest import Recorder
from newsroom import Newsroom, Route

RSS = "application/rss+xml; charset=utf-8"
JSON_FEED = "application/feed+json"
FEED_TIMEOUT = 3.0  # the hostile config's feed deadline, also the parse budget (room for a loaded CI)
REBINDING_HOST = "feeds.daily-wire-news.com"  # a public-looking name the stub answers with loopback
EXPLODING_HOST = "explode.daily-wire-news.com"  # the stub raises RuntimeError: a bug we did not foresee


def rss(items: str, title: str = "Hostile") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://127.0.0.1/</link>{items}</channel></rss>").encode()


def item(title: str, link: str, guid: str | None = None) -> str:
    return f"<item><title>{title}</title><link>{link}</link><guid>{guid or link}</guid></item>"


def json_feed(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Hostile JSON",
                       "items": items}).encode()


def many_empty_items(count: int) -> bytes:
    """2.2 million ``<item/>`` fit under the 15 MiB cap: nothing to store, a lot to build."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title>'
    return head + b"<item/>" * count + b"</channel></rss>"


def many_titled_items(count: int) -> bytes:
    """A JSON Feed (quick to read, so the item cap and not the time budget is what shows)."""
    return json_feed([{"id": str(i), "title": f"Item {i}"} for i in range(count)])


def slow_to_parse(count: int = 1000, repeat: int = 700) -> bytes:
    """Entity-laden descriptions: feedparser takes seconds per megabyte of them."""
    text = "word &amp; " * repeat
    return rss("".join(f"<item><title>Slow {i}</title><description>{text}</description></item>"
                       for i in range(count)))


def deep_json(depth: int = 200_000) -> bytes:
    return b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * depth + b"]" * depth + b"}"


def long_number_json(digits: int = 100_000) -> bytes:
    return (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": ' + b"7" * digits
            + b', "url": "http://127.0.0.1/x", "title": "n"}]}')


def billion_laughs(base: str) -> bytes:
    lines = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(lines)}]><rss version="2.0"><channel>'
            f"<title>Laughs</title><item><title>&lol9;</title><link>{base}/h/laughs</link></item>"
            "</channel></rss>").encode()


def external_entity(target: str, base: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]><rss version="2.0">'
            f"<channel><title>XXE</title><item><title>&xxe;</title><link>{base}/h/xxe</link></item>"
            "</channel></rss>").encode()


def huge_sitemap(count: int = 200_000) -> bytes:
    urls = "".join(f"<url><loc>http://127.0.0.1/s/{i}</loc><lastmod>2001-01-01</lastmod></url>"
                   for i in range(count))
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
            "</urlset>").encode()


def binary(size: int = 200_000) -> bytes:
    return random.Random(10).randbytes(size)


def control_page(title: str) -> bytes:
    """An article page with terminal escapes and bells in its title, author and description
    (the extractor reads its text only when the body itself is clean: issue 9's side)."""
    paragraph = "An ordinary paragraph about a local council meeting and the budget vote that followed. "
    return (f'<html><head><title>{title}</title><meta property="og:title" content="{title}">'
            '<meta name="author" content="Eve \x1b[5m\x08"><meta name="description" content="d \x07\x1b[1m">'
            "</head><body><article>" + "".join(f"<p>{paragraph * 3} Part {i}.</p>" for i in range(6))
            + "</article></body></html>").encode()


@dataclass(frozen=True)
class Hostile:
    """A hostile source: its id, what it is, and what the run must make of it."""

    id: str
    path: str
    fails: bool | None  # the source itself fails (False: it succeeds, its pages may fail; None: either)


def install(room: Newsroom, never: str) -> list[Hostile]:
    """Add the hostile routes to ``room``; ``never`` is the base URL of a server that must
    receive no request (a Recorder). Returns the hostile sources."""
    base = room.base_url
    routes: dict[str, Route] = {
        "/h/redirect-data.xml": _redirect("data:application/rss+xml,<rss/>"),
        "/h/redirect-javascript.xml": _redirect("javascript:alert(document.domain)"),
        "/h/redirect-mailto.xml": _redirect("mailto:editor@newsroom.test"),
        "/h/redirect-control.xml": _redirect(base + "/h/ctl\x01feed.xml"),
        "/h/pages-redirect.xml": Route(rss("".join(
            item(f"Redirected page {name}", f"{base}/h/page-to-{name}") for name in ("data", "javascript", "mailto"))), RSS),
        "/h/page-to-data": _redirect("data:text/html,<h1>hi</h1>"),
        "/h/page-to-javascript": _redirect("javascript:alert(1)"),
        "/h/page-to-mailto": _redirect("mailto:editor@newsroom.test"),
        "/h/controls.json": Route(json_feed([
            {"id": "nul", "url": f"{base}/h/ctl\x00page", "title": "NUL \x00 in the link"},
            {"id": "soh", "url": f"{base}/h/ctl\x01page", "title": "SOH in the link"},
            {"id": "del", "url": f"{base}/h/ctl\x7fpage", "title": "DEL \x7f in the link"},
            {"id": "esc", "url": f"{base}/h/escapes.html",
             "title": "Escapes \x1b]0;owned\x07 \x1b[2J\x1b[31mred\x1b[0m \x9b1m title \ud800",
             "summary": "bell \x07 and NUL \x00", "authors": [{"name": "Eve \x1b[5m\x08"}]},
        ]), JSON_FEED),
        "/h/escapes.html": Route(control_page("Escapes \x1b[2J in \x07 the page title")),
        "/h/deep.json": Route(deep_json(), JSON_FEED),
        "/h/long-number.json": Route(long_number_json(), JSON_FEED),
        "/h/empty-items.xml": Route(many_empty_items(2_200_000), RSS),
        "/h/titled-items.json": Route(many_titled_items(100_000), JSON_FEED),
        "/h/slow.xml": Route(slow_to_parse(), RSS),
        "/h/laughs.xml": Route(billion_laughs(base), RSS),
        "/h/xxe.xml": Route(external_entity(never + "/xxe", base), RSS),
        "/h/sitemap-huge.xml": Route(huge_sitemap(), "application/xml"),
        "/h/binary-pages.xml": Route(rss(item("Binary page", f"{base}/h/binary.html")
                                         + item("Octets", f"{base}/h/binary.bin")), RSS),
        "/h/binary.html": Route(binary()),
        "/h/binary.bin": Route(binary(), "application/octet-stream"),
        "/h/absurd-dates.xml": Route(rss(
            f"<item><title>Year one</title><link>{base}/h/dated-1</link>"
            "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate></item>"
            f"<item><title>Year 9999</title><link>{base}/h/dated-2</link>"
            "<pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>"
            f"<item><title>Month 13</title><link>{base}/h/dated-3</link>"
            "<pubDate>2026-13-45T99:99:99Z</pubDate></item>"), RSS),
    }
    for path, route in routes.items():
        room.set_route(path, route)
    return [
        Hostile("redirect-data", "/h/redirect-data.xml", True),
        Hostile("redirect-javascript", "/h/redirect-javascript.xml", True),
        Hostile("redirect-mailto", "/h/redirect-mailto.xml", True),
        Hostile("redirect-control", "/h/redirect-control.xml", True),
        Hostile("pages-redirect", "/h/pages-redirect.xml", False),
        Hostile("controls", "/h/controls.json", False),
        Hostile("deep-json", "/h/deep.json", True),
        Hostile("long-number", "/h/long-number.json", True),
        Hostile("empty-items", "/h/empty-items.xml", False),
        Hostile("titled-items", "/h/titled-items.json", False),
        Hostile("slow-parse", "/h/slow.xml", True),
        Hostile("laughs", "/h/laughs.xml", None),  # refused or parsed unexpanded: see the test
        Hostile("xxe", "/h/xxe.xml", False),
        Hostile("sitemap-huge", "/h/sitemap-huge.xml", None),  # over the time budget on a slow machine
        Hostile("binary-pages", "/h/binary-pages.xml", False),
        Hostile("absurd-dates", "/h/absurd-dates.xml", False),
        # the traps every newsroom serves (tests/newsroom.py): they passed before issue 10
        Hostile("gzip-bomb", "/trap/bomb.xml", True),
        Hostile("redirect-loop", "/trap/loop-a", True),
        Hostile("redirect-file", "/trap/redirect-file", True),
        Hostile("huge-length", "/trap/huge.xml", True),
    ]


def _redirect(location: str) -> Route:
    return Route(b"moved", status=302, headers=(("Location", location),))


class Trap(Recorder):
    """A server that must never be asked anything, recording every request. It listens on
    ::1, which the hostile run's allow-list (127.0.0.1/32) refuses: spellings of ::1 and a
    name the stub resolver answers with it must never reach it. Without IPv6 loopback it
    listens on 127.0.0.1 (``refusable`` False): then only the external-entity trap uses it."""

    def __init__(self) -> None:
        try:
            super().__init__("::1")
            self.refusable = True
        except OSError:
            super().__init__("127.0.0.1")
            self.refusable = False
        self.base = self.url


# Run as ``python -c RESOLVER_STUB --config ... run``: the real command line, with the
# resolver newswatch calls (socket.getaddrinfo, through pipeline.acquire.fetch.resolve)
# answering REBINDING_HOST with ::1 first and another spelling of it on every later lookup.
RESOLVER_STUB = f"""
import socket, sys
real = socket.getaddrinfo
answers = iter(["::1"])
def stub(host, port, *args, **kwargs):
    if host == {EXPLODING_HOST!r}:
        raise RuntimeError("stub resolver exploded")
    if host == {REBINDING_HOST!r}:
        address = next(answers, "0:0:0:0:0:0:0:1")
        with open(sys.argv[1], "a") as log:
            log.write(address + "\\n")
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
    return real(host, port, *args, **kwargs)
socket.getaddrinfo = stub
from pipeline.cli import main
sys.exit(main(sys.argv[2:]))
"""
