"""Unchanged feeds: N feeds answering 304, against a plain keep-alive loop (issue 12).

Serves N small feeds with ETags on loopback. A first run stores their validators; the
second run, an hour later, asks each feed conditionally and every one answers 304. Prints
polls/s of that second run, whole (configuration sync, store, analysis included) and the
polls alone, the same conditional GETs made plainly on one keep-alive httpx client, the
ratio, and the peak memory of the process that ran newswatch.

    python bench/bench_polls.py [N] [--hosts H] [--concurrency C]      # default 1000, 1 host

With one host, every poll waits its turn (one request at a time per host), as the plain
loop's do; with several, newswatch polls hosts side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# NEWSWATCH_CODE=<another checkout> measures that checkout's pipeline (a "before" figure)
# with this checkout's newsroom and benchmark.
sys.path[:0] = [os.environ.get("NEWSWATCH_CODE", str(ROOT)), str(ROOT / "tests")]

from newsroom import Newsroom  # noqa: E402

NOW = datetime(2026, 6, 20, tzinfo=timezone.utc)


def publish(rooms: list[Newsroom], n: int) -> list[str]:
    urls = []
    for i in range(n):
        room = rooms[i % len(rooms)]
        path = f"/feeds/{i:05d}.xml"
        body = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {i}</title>"
                f"<link>{room.url('/')}</link></channel></rss>")
        room.set_route(path, body=body.encode(), content_type="application/rss+xml", etag=f'"feed-{i}"')
        urls.append(room.url(path))
    return urls


def newswatch_runs(config: str, out: mp.Queue) -> None:
    from pipeline import jobs
    from pipeline.config import load_settings
    polls: list[float] = []
    name = "poll_sources" if hasattr(jobs, "poll_sources") else "refresh_source"  # before issue 12
    inner = getattr(jobs, name)

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 (a phase timer for this benchmark)
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            polls.append(time.perf_counter() - t)
    setattr(jobs, name, timed)
    settings = load_settings(Path(config))
    jobs.ingest(settings, NOW, force=True)  # stores the validators
    t = time.perf_counter()
    report = jobs.ingest(settings, NOW + timedelta(hours=1), force=True)
    wall = time.perf_counter() - t
    n = len(report.outcomes)
    out.put({"wall": wall, "polls": sum(polls[-n:]) if name == "refresh_source" else polls[-1], "unchanged": sum(o.not_modified for o in report.outcomes),
             "sources": len(report.outcomes), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def plain(urls: list[str]) -> tuple[float, int]:
    import httpx
    with httpx.Client(trust_env=False) as client:
        t = time.perf_counter()
        answered = sum(client.get(u, headers={"If-None-Match": f'"feed-{i}"'}).status_code == 304
                       for i, u in enumerate(urls))
        return time.perf_counter() - t, answered


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("n", nargs="?", type=int, default=1000)
    args.add_argument("--hosts", type=int, default=1, help="loopback servers the feeds are spread over")
    args.add_argument("--concurrency", type=int, default=None, help="http.concurrency (default: its default)")
    opts = args.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with contextlib.ExitStack() as stack:
        rooms = [stack.enter_context(Newsroom()) for _ in range(opts.hosts)]
        room = rooms[0]
        urls = publish(rooms, opts.n)
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb",
                                   http={} if opts.concurrency is None else {"concurrency": opts.concurrency})
        (config / "sources.toml").write_text("".join(
            f'[[source]]\nid = "feed-{i:05d}"\nurl = "{u}"\n\n' for i, u in enumerate(urls)), encoding="utf-8")
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=newswatch_runs, args=(str(config), out))
        proc.start()
        ours = out.get()
        proc.join()
        plain_wall, plain_304 = plain(urls)
    n = ours["sources"]
    print(f"feeds        {opts.n} on {opts.hosts} host(s); second run: {ours['unchanged']} of {n} unchanged")
    print(f"newswatch    {ours['wall']:6.2f} s  {n / ours['wall']:6.0f} polls/s for the whole run "
          f"({n / ours['polls']:.0f} polls/s in the polling phase, {ours['polls']:.2f} s)")
    print(f"plain        {plain_wall:6.2f} s  {plain_304 / plain_wall:6.0f} polls/s (conditional GETs, "
          "one keep-alive httpx client)")
    print(f"ratio        {n / ours['wall'] / (plain_304 / plain_wall):.2f}x   (goal: >= 500 polls/s)")
    print(f"peak RSS     {ours['rss']:.0f} MiB (newswatch process)")


if __name__ == "__main__":
    main()
