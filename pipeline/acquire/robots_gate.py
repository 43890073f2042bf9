"""May we fetch this article page? robots.txt, fetched once per origin and kept 24 hours.

Feeds, sitemaps and search results are published to be polled, so only article pages
pass through the gate. The rules themselves are read in ``robots`` (pure).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pipeline.acquire import robots
from pipeline.acquire.fetch import Fetcher
from pipeline.errors import FetchError
from pipeline.store import Store

KEEP = timedelta(hours=24)  # RFC 9309 §2.4: a cached robots.txt may be used up to 24 hours


class RobotsGate:
    def __init__(self, fetcher: Fetcher, store: Store, now: datetime, timeout: float) -> None:
        self._fetcher, self._store, self._now, self._timeout = fetcher, store, now, timeout
        self._known: dict[str, robots.Robots] = {}
        self._outages: set[str] = set()
        self._guard = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    def allows(self, url: str) -> bool:
        """Thread-safe: sources polled at once that share an origin fetch its robots.txt once."""
        origin = _origin(url)
        with self._guard:
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._known:
                self._known[origin] = self._rules(origin)
        return self._known[origin].allowed(url)

    def outage(self, url: str) -> bool:
        """True when the origin's robots.txt answered 5xx or not at all: the page is held
        back for now (RFC 9309 §2.3.1.4) and tried again on a later run, like a 5xx page."""
        return _origin(url) in self._outages

    def _rules(self, origin: str) -> robots.Robots:
        kept = self._store.robots_txt(origin, self._now - KEEP)
        if kept is None:
            kept = self._fetch(origin)
            if not _passing(kept[0]):  # an outage is not kept: the next run asks again
                self._store.save_robots_txt(origin, self._now, *kept)
        status, body = kept
        if _passing(status):
            self._outages.add(origin)
        if status is None:
            return robots.UNREACHABLE
        return robots.parse_robots(body or "") if 200 <= status < 300 else robots.from_status(status)

    def _fetch(self, origin: str) -> tuple[int | None, str | None]:
        try:
            result = self._fetcher.get(f"{origin}/robots.txt", deadline=self._timeout, accept="text/plain")
        except FetchError as exc:
            return (exc.status, None) if exc.kind == "http" else (None, None)
        return result.status, result.body[:robots.MAX_BYTES].decode("utf-8", "replace")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


def _passing(status: int | None) -> bool:
    return status is None or status >= 500
