"""When to poll a source again: its interval follows how often it brings new entries.

Media Cloud's rule of thumb: consecutive polls of a feed should *overlap* (the second
still lists entries the first saw), or entries that scrolled out of the feed in between
were missed; and a feed that keeps listing only what we already have is polled too
often. So after each successful poll (``entries`` listed, ``new`` of them unseen):

- nothing new (also a 304 or an unchanged body): the interval doubles;
- everything new (no overlap, entries may have been missed): the interval halves;
- otherwise it moves toward the interval at which about a quarter of the listing is new
  (``NEW_SHARE * entries / new`` times the last one), at most halving or doubling at once;

always between ``schedule.min_poll_minutes`` and ``schedule.max_poll_minutes``. A new
source starts at the minimum. The next poll is the interval plus up to 10 % jitter, so
sources added together drift apart instead of falling due in the same second. Failures
back off separately (``refresh``), and a Retry-After always wins.

Works on plain numbers and, element-wise, on numpy arrays (``bench/bench_polling.py``
simulates 100,000 sources with this very function). Pure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

JITTER = 0.1  # the next poll comes up to 10 % after the interval
NEW_SHARE = 0.25
"""The share of a listing a poll should find new. Measured with bench/bench_polling.py
(10,000 sources, max 60 min): aiming at half, 0.22 % of entries scrolled out unseen;
at a quarter 0.06 % (every source at min_poll: 0.04 %), for the same number of polls."""


@dataclass(frozen=True)
class PollLimits:
    min_s: float
    max_s: float


def next_interval(previous_s: Any, entries: Any, new: Any, limits: PollLimits) -> Any:
    """The new interval in seconds (see the module docstring); ``previous_s`` None or 0
    for a source polled for the first time."""
    previous = np.asarray(limits.min_s if previous_s is None else previous_s, dtype=float)
    base = np.where(previous > 0, previous, limits.min_s)
    entries, new = np.asarray(entries, dtype=float), np.asarray(new, dtype=float)
    toward = np.clip(NEW_SHARE * entries / np.maximum(new, 1), 0.5, 2.0)
    factor = np.where(new <= 0, 2.0, np.where(new >= entries, 0.5, toward))
    result = np.clip(base * factor, limits.min_s, max(limits.min_s, limits.max_s))
    return float(result) if result.ndim == 0 else result


def next_poll(now: datetime, interval_s: float, rng: random.Random | None = None) -> datetime:
    """When the source is due again: the interval plus jitter."""
    return now + timedelta(seconds=interval_s * (1 + (rng or random).uniform(0, JITTER)))
