"""Ingest throughput and memory against the loopback newsroom (no other network).

Serves one extra feed of N generated article pages (sentences of the seed articles
shuffled into new texts, under realistic boilerplate), then measures:
- a first run: feed + N pages fetched, extracted in the worker process, fingerprinted,
  near-duplicates checked, scored, written;
- a second run: every feed answers 304, nothing is fetched again;
- peak memory of the process (the extraction worker is a separate process).

    python bench/bench_ingest.py [N]      # default 300
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from newsroom import Newsroom  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.jobs import ingest  # noqa: E402

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | Bench Daily</title>
<meta property="og:site_name" content="Bench Daily"><meta name="author" content="Staff">
<meta property="article:published_time" content="{when}">
<link rel="canonical" href="{url}"></head><body>
<nav><a href="/">Home</a> <a href="/tech">Tech</a> <a href="/world">World</a></nav>
<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>
<main><article><h1>{title}</h1>{paragraphs}</article>
<aside><h2>Related</h2><ul><li><a href="/a">Markets close higher</a></li><li><a href="/b">Weather</a></li></ul></aside>
<section class="comments"><h2>Comments</h2><p>First!</p></section></main>
<footer>&copy; Bench Daily. All rights reserved. <a href="/privacy">Privacy</a></footer></body></html>"""


def sentences() -> list[str]:
    out = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            out += [s.strip() + "." for s in line.split(". ") if len(s.split()) > 6]
    return out


def publish(room: Newsroom, n: int) -> None:
    rng = random.Random(3)
    pool = sentences()
    start = datetime(2026, 6, 5, tzinfo=timezone.utc)
    items = []
    for i in range(n):
        path = f"/bench-daily/{i:04d}.html"
        when = start + timedelta(minutes=7 * i)
        body = "".join(f"<p>{escape(' '.join(rng.sample(pool, 4)))}</p>" for _ in range(8))
        title = f"Bench story {i}: " + " ".join(rng.choice(pool).split()[:8])
        room.set_route(path, body=PAGE.format(title=escape(title), when=when.isoformat(),
                                              url=room.url(path), paragraphs=body).encode())
        items.append(f"<item><title>{escape(title)}</title><link>{room.url(path)}</link>"
                     f"<guid>{path}</guid><pubDate>{format_datetime(when)}</pubDate></item>")
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Bench Daily</title>"
            f"<link>{room.url('/bench-daily/')}</link>{''.join(items)}</channel></rss>")
    room.set_route("/bench-daily/feed.xml", body=feed.encode(), content_type="application/rss+xml",
                   etag='"bench-1"')


def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    with Newsroom() as room:
        publish(room, n)
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb",
                                   http={"max_pages_per_source": n + 10, "page_timeout": 30, "feed_timeout": 30},
                                   extra_sources=[{"id": "bench-daily", "url": room.url("/bench-daily/feed.xml")}])
        settings = load_settings(config)
        t = time.perf_counter()
        first = ingest(settings, datetime(2026, 6, 20, tzinfo=timezone.utc), force=True)
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        second = ingest(settings, datetime(2026, 6, 20, 1, tzinfo=timezone.utc), force=True)
        second_s = time.perf_counter() - t
    pages = first.new_articles
    print(f"first run    {first_s:6.1f} s  {pages} new articles ({pages / first_s:.1f} pages/s), "
          f"{first.extraction_failures} extraction failures, analysis {first.analysis}")
    print(f"second run   {second_s:6.1f} s  {second.new_articles} new articles, "
          f"{sum(o.not_modified for o in second.outcomes)} of {len(second.outcomes)} sources unchanged")
    print(f"peak RSS     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:6.0f} MiB (main process)")
    print(f"warehouse    {(tmp / 'newswatch.duckdb').stat().st_size / 2**20:6.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
