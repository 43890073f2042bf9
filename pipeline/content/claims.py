"""Which article a link became this run, shared by sources polled side by side.

Polled in turn, a source finds the articles earlier sources stored in the warehouse and
does not fetch them again. Polled at once, it asks here instead: ``ids`` holds the
articles stored so far this run (url_key -> article_id), and a link another source is
fetching right now is *held* by it; the entry waits until the holder has stored or given
up the page, so a page listed by two feeds is still fetched once. A page that failed is
in ``failed`` with its attempts, so the retry rule counts as it does when polled in turn.
"""

from __future__ import annotations

import threading


class Claims:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while an article is checked and stored
        self.ids: dict[str, str] = {}
        self.failed: dict[str, tuple[str, int, bool]] = {}  # url_key -> (article_id, attempts, transient)
        self._guard = threading.Lock()
        self._held: dict[str, tuple[str, threading.Event]] = {}

    def first(self, keys: set[str]) -> str | None:
        """The article stored this run under one of ``keys``, if any."""
        return next((self.ids[k] for k in sorted(keys) if k in self.ids), None)

    def hold(self, key: str, owner: str) -> bool:
        """Hold ``key`` for ``owner``; False when another owner holds it."""
        with self._guard:
            held = self._held.setdefault(key, (owner, threading.Event()))
        return held[0] == owner

    def held_by_other(self, key: str, owner: str) -> threading.Event | None:
        """What to wait on when another owner holds ``key``."""
        held = self._held.get(key)
        return held[1] if held is not None and held[0] != owner else None

    def release(self, key: str, owner: str) -> None:
        with self._guard:
            held = self._held.get(key)
            if held is not None and held[0] == owner:
                del self._held[key]
                held[1].set()

    def release_all(self, owner: str) -> None:
        with self._guard:
            mine = [k for k, (o, _) in self._held.items() if o == owner]
        for key in mine:
            self.release(key, owner)
