"""Politeness between threads: one request at a time per host, with a pause between."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class HostSlots:
    """At most one request at a time per host, and ``delay`` seconds between the end of
    one and the start of the next: the politeness rule every thread fetching goes through."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._free_at: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """Hold ``host``; yields the seconds spent waiting for it."""
        started = time.monotonic()
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            wait = self._free_at.get(host, 0.0) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield time.monotonic() - started
            finally:
                self._free_at[host] = time.monotonic() + self._delay
