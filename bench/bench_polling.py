"""Adaptive polling of 100,000 sources on a fake clock (no network), and what the
scheduler's due-sources query costs at that size.

Each simulated source publishes at its own Poisson rate (log-normal across sources:
median 4 entries a day, a long tail of busy wires and a crowd of near-dormant blogs) and
lists its latest ``window`` entries (10 to 100). Every minute of simulated time the due
sources are polled; a poll sees the entries published since the last one, up to the
window (the rest scrolled out: missed), and the next interval comes from
``pipeline.acquire.schedule`` itself (vectorised over all sources at once). Reported over
the simulated days after the first (the warm-up): polls per second (mean and busiest
minute) against the ~500 polls/s a 304 poll costs (issue 12), entries missed, and the
mean delay from publication to the poll that saw it; the same for every source polled at
min_poll_minutes, as before this issue. Then a warehouse with 100,000 sources answers
``Store.due_sources`` at a busy minute.

    python bench/bench_polling.py [SOURCES] [DAYS]      # default 100000 3
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.acquire.schedule import JITTER, PollLimits, next_interval  # noqa: E402
from pipeline.store import open_writer  # noqa: E402

TICK = 60.0  # seconds of simulated time per step
CAPACITY = 500  # polls/s the fetcher sustains for 304 answers (issue 12's goal)
LIMITS = PollLimits(min_s=15 * 60, max_s=60 * 60)  # the defaults


def sources(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(entries a second, window) of each source."""
    per_day = np.clip(rng.lognormal(mean=np.log(4), sigma=1.6, size=n), 0.01, 2000)
    window = rng.choice([10, 20, 25, 30, 50, 100], size=n)
    return per_day / 86400, window


def simulate(n: int, days: int, adaptive: bool, seed: int = 5) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    rate, window = sources(n, rng)
    due = rng.uniform(0, LIMITS.min_s, n)  # sources added together, first polls spread
    last = np.zeros(n)
    interval = np.zeros(n)  # 0: never polled
    polls_per_tick, seen, missed, delay_sum = [], 0, 0, 0.0
    for now in np.arange(0, days * 86400, TICK):
        hit = np.flatnonzero(due <= now)
        published = rng.poisson(rate[hit] * (now - last[hit]))
        new = np.minimum(published, window[hit])
        if now >= 86400:  # after the warm-up day
            polls_per_tick.append(len(hit))
            seen += int(new.sum())
            missed += int((published - new).sum())
            delay_sum += float((new * (now - last[hit]) / 2).sum())  # Poisson: half the gap on average
        if adaptive:
            interval[hit] = next_interval(interval[hit], window[hit], new, LIMITS)
        else:
            interval[hit] = LIMITS.min_s
        last[hit] = now
        due[hit] = now + interval[hit] * (1 + rng.uniform(0, JITTER, len(hit)))
    per_s = np.array(polls_per_tick) / TICK
    return {"mean": per_s.mean(), "peak": per_s.max(), "missed": missed / max(1, seen + missed),
            "delay_min": delay_sum / max(1, seen) / 60, "due": due}


def due_query_ms(n: int, due_s: np.ndarray) -> tuple[float, int]:
    """Mean time of ``Store.due_sources`` over a warehouse of ``n`` sources."""
    start = datetime(2026, 6, 10, tzinfo=timezone.utc)
    path = Path(tempfile.mkdtemp()) / "polling.duckdb"
    store = open_writer(path)
    store.con.execute("INSERT INTO sources (source_id, kind, url, next_check_at, active) "
                      "SELECT 's' || i, 'feed', 'http://127.0.0.1/' || i, "
                      "?::TIMESTAMPTZ + to_microseconds((d * 1e6)::BIGINT), TRUE "
                      "FROM (SELECT unnest(range(?)) AS i, unnest(?::DOUBLE[]) AS d)",
                      [start, n, [float(x) for x in due_s]])
    now = start + timedelta(seconds=float(np.quantile(due_s, 0.001)))
    t = time.perf_counter()
    for _ in range(20):
        found = store.due_sources(now)
    ms = (time.perf_counter() - t) * 1000 / 20
    store.close()
    return ms, len(found)


def main(n: int, days: int) -> None:
    print(f"{n} sources, {days} simulated days (the first is warm-up), ticks of {TICK:.0f} s")
    for label, adaptive in (("adaptive", True), ("fixed min_poll (before)", False)):
        t = time.perf_counter()
        r = simulate(n, days, adaptive)
        print(f"  {label:<24} polls/s mean {r['mean']:6.1f}, busiest minute {r['peak']:6.1f} "
              f"({r['peak'] / CAPACITY:.0%} of {CAPACITY}/s); entries missed {r['missed']:.2%}; "
              f"mean delay to the poll {r['delay_min']:.1f} min  [{time.perf_counter() - t:.0f} s to simulate]")
        if adaptive:
            due = r["due"]
    ms, found = due_query_ms(n, due - due.min())
    print(f"  due-sources query at {n} sources: {ms:.1f} ms ({found} due)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
