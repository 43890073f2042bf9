"""Work budgets of parsing: how much of a document is read, and for how long.

A document under the body cap can still cost minutes: feedparser spent 147 s on 15 MB of
2.2 million empty items, and 19 s on 2,000 items of entity-laden text. Two bounds apply:

- an item budget: items past the cap are cut out of the bytes before any parser sees
  them (``keep_first``), so they are never built;
- a time budget: ``deadline(seconds)`` opens a window in which ``check()`` raises
  ``OverBudget`` once the time is up. Our own loops call ``check()``; inside feedparser,
  which is one long call, its text and tag callbacks are wrapped to call it, so a parse
  stops within one callback of its deadline. ``OverBudget`` derives from BaseException
  because feedparser catches Exception to retry leniently, which would double the cost.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from functools import wraps
from typing import Any, Callable, Iterator

_local = threading.local()


class OverBudget(BaseException):
    """The parse ran past its deadline (caught by the caller of ``deadline``)."""


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Within this block, ``check()`` raises once ``seconds`` have passed (None: no limit).
    Nested blocks keep the earlier deadline."""
    outer = getattr(_local, "ends_at", None)
    ends = None if seconds is None else time.monotonic() + seconds
    _local.ends_at = min((t for t in (outer, ends) if t is not None), default=None)
    try:
        yield
    finally:
        _local.ends_at = outer


def check() -> None:
    ends = getattr(_local, "ends_at", None)
    if ends is not None and time.monotonic() > ends:
        raise OverBudget()


def keep_first(body: bytes, item: re.Pattern[bytes], tail: re.Pattern[bytes], limit: int) -> tuple[bytes, int]:
    """``body`` with the items past the first ``limit`` cut out, and how many were cut.

    ``item`` finds an item's start tag; what follows the cut is replaced by the document's
    closing tags (``tail``, searched in its last 4 KiB), so the rest still parses. Counting
    runs at the speed of ``bytes.count``, never building anything."""
    found = item.finditer(body)
    cut = next((m for i, m in enumerate(found) if i == limit), None)
    if cut is None:
        return body, 0
    closing = tail.search(body, max(cut.start(), len(body) - 4096))
    rest = body.count(cut.group(0)[:-1], cut.start())
    return body[:cut.start()] + (body[closing.start():] if closing else b""), rest


def watch(cls: type, *names: str) -> None:
    """Make the methods ``names`` of a third-party parser class call ``check()`` first."""
    for name in names:
        original = getattr(cls, name, None)
        if original is not None and not getattr(original, "_budget_checked", False):
            setattr(cls, name, _checked(original))


def _checked(method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        check()
        return method(*args, **kwargs)

    run._budget_checked = True  # type: ignore[attr-defined]
    return run
