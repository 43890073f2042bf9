"""Cold ingest of realistic pages, against the plain way, in the same run (issue 12).

Serves, on loopback only, one feed of N generated pages: ~800 words of article text (the
seed articles' sentences shuffled into new texts) inside ~90 KiB of boilerplate (menus,
inline scripts and styles, related links, comments, footer), as news pages are. Then:
- newswatch: a first `ingest` of that feed into a fresh warehouse (fetch, extract in the
  pool, fingerprint, near-duplicates, scores, writes), in a fresh process;
- plain: the same pages downloaded with httpx and read with
  `trafilatura.bare_extraction`, split over 2 processes, nothing stored;
and prints pages/s of both, their ratio, the phases of the newswatch run, and the peak
memory (RSS) of every process.

    python bench/bench_cold.py [N] [--concurrency C] [--workers W]     # default 500
"""

from __future__ import annotations

import argparse
import os
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# NEWSWATCH_CODE=<another checkout> measures that checkout's pipeline (a "before" figure)
# with this checkout's newsroom and benchmark.
sys.path[:0] = [os.environ.get("NEWSWATCH_CODE", str(ROOT)), str(ROOT / "tests")]

from newsroom import Newsroom  # noqa: E402

NOW = datetime(2026, 6, 20, tzinfo=timezone.utc)


def sentences() -> list[str]:
    out = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            out += [s.strip() + "." for s in line.split(". ") if len(s.split()) > 6]
    return out


def boilerplate(rng: random.Random, words: list[str]) -> dict[str, str]:
    """~90 KiB of what surrounds an article: the parts a page has, in realistic sizes."""
    def phrase(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))
    menu = "".join(f'<li><a href="/section/{i}">{phrase(2)}</a></li>' for i in range(160))
    script = "window.__CONFIG__ = {" + ",".join(
        f'"k{i}": "{phrase(6)}"' for i in range(750)) + "};"
    style = "".join(f".c{i} {{ margin: {i % 9}px; color: #{i:06x}; }}\n" for i in range(450))
    related = "".join(f'<li><a href="/story/{i}"><img src="/i/{i}.jpg" alt="">{phrase(9)}</a></li>'
                      for i in range(60))
    comments = "".join(f'<div class="comment"><b>{phrase(2)}</b><p>{phrase(25)}</p></div>' for i in range(25))
    footer = "".join(f'<a href="/f/{i}">{phrase(3)}</a> ' for i in range(180))
    return {"menu": menu, "script": script, "style": style, "related": related, "comments": comments,
            "footer": footer}


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | Cold Daily</title>
<meta property="og:site_name" content="Cold Daily"><meta name="author" content="Staff">
<meta property="article:published_time" content="{when}"><link rel="canonical" href="{url}">
<style>{style}</style><script>{script}</script></head><body>
<header><nav><ul>{menu}</ul></nav><div class="cookie">We use cookies. <button>Accept</button></div></header>
<main><article><h1>{title}</h1><p class="byline">By Staff, {when}</p>{paragraphs}</article>
<aside><h2>Related</h2><ul>{related}</ul></aside><section class="comments">{comments}</section></main>
<footer>{footer}<p>&copy; Cold Daily</p></footer></body></html>"""


def pages(n: int, url: Callable[[str], str]) -> Iterator[tuple[str, datetime, str, str]]:
    """(path, published, title, html) of ``n`` generated pages; ``url(path)`` their address."""
    rng = random.Random(12)
    pool = sentences()
    words = " ".join(pool).split()
    start = datetime(2026, 6, 5, tzinfo=timezone.utc)
    for i in range(n):
        path = f"/cold-daily/{i:04d}.html"
        when = start + timedelta(minutes=7 * i)
        text = "".join(f"<p>{escape(' '.join(rng.sample(pool, 5)))}</p>" for _ in range(7))
        title = f"Cold story {i}: " + " ".join(rng.choice(pool).split()[:8])
        yield path, when, title, PAGE.format(title=escape(title), when=when.isoformat(), url=url(path),
                                             paragraphs=text, **boilerplate(rng, words))


def publish(room: Newsroom, n: int) -> list[str]:
    items, urls = [], []
    for path, when, title, page in pages(n, room.url):
        room.set_route(path, body=page.encode())
        urls.append(room.url(path))
        items.append(f"<item><title>{escape(title)}</title><link>{room.url(path)}</link>"
                     f"<guid>{path}</guid><pubDate>{format_datetime(when)}</pubDate></item>")
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Cold Daily</title>"
            f"<link>{room.url('/cold-daily/')}</link>{''.join(items)}</channel></rss>")
    room.set_route("/cold-daily/feed.xml", body=feed.encode(), content_type="application/rss+xml")
    return urls


# -- newswatch, in a fresh process (the newsroom's pages stay out of its memory) ----------

def newswatch_run(config: str, out: mp.Queue) -> None:
    from pipeline import jobs
    from pipeline.config import load_settings
    phases: dict[str, float] = {}

    def timed(name, fn):  # noqa: ANN001, ANN202 (phase timers for this benchmark only)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        return wrapper
    if hasattr(jobs, "poll_sources"):
        from pipeline import polling
        jobs.poll_sources = timed("fetch+extract+write", polling.poll_sources)
    else:  # before issue 12
        jobs.refresh_source = timed("fetch+extract+write", jobs.refresh_source)
    jobs.analyse = timed("near-duplicates+scores", jobs.analyse)
    settings = load_settings(Path(config))
    t, cpu = time.perf_counter(), time.process_time()
    report = jobs.ingest(settings, NOW, force=True)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the extraction workers, ended with the run
    out.put({"wall": wall, "cpu": cpu, "workers_cpu": children.ru_utime + children.ru_stime,
             "articles": report.new_articles, "failures": report.extraction_failures,
             "phases": phases, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "workers_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024})


# -- the plain way -------------------------------------------------------------------------

def plain_half(urls: list[str], ours: bool, out: mp.Queue) -> None:
    import httpx
    import trafilatura

    try:
        from pipeline.content.extract import extract_page as extract
    except ImportError:  # a checkout from before issue 9
        from pipeline.content.extract import extract_article as extract
    done = 0
    with httpx.Client(trust_env=False) as client:
        for url in urls:
            html = client.get(url)
            if ours:  # the same plain loop around newswatch's extractor: what orchestration costs
                done += extract(html.content, url) is not None
            else:
                done += trafilatura.bare_extraction(html.text, url=url) is not None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((done, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime))


def plain(urls: list[str], ours: bool = False) -> tuple[float, int, float, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=plain_half, args=(urls[i::2], ours, out)) for i in range(2)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join()
    return wall, sum(r[0] for r in results), max(r[1] for r in results), sum(r[2] for r in results)


def concurrency(opts: argparse.Namespace) -> dict[str, int]:
    return {} if opts.concurrency is None else {"concurrency": opts.concurrency}


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("n", nargs="?", type=int, default=500)
    args.add_argument("--concurrency", type=int, default=None, help="http.concurrency (default: its default)")
    args.add_argument("--workers", type=int, default=0, help="0: the default (the number of cores)")
    opts = args.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with Newsroom() as room:
        urls = publish(room, opts.n)
        sizes = [len(room.route(u[len(room.base_url):]).body) for u in urls[:20]]
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb",
                                   http={"max_pages_per_source": opts.n + 10, "page_timeout": 60,
                                         "feed_timeout": 60, **concurrency(opts)})
        (config / "sources.toml").write_text(
            f'[[source]]\nid = "cold-daily"\nurl = "{room.url("/cold-daily/feed.xml")}"\n', encoding="utf-8")
        if opts.workers:
            with (config / "newswatch.toml").open("a", encoding="utf-8") as toml:
                toml.write(f"\n[extract]\nworkers = {opts.workers}\n")
        ctx = mp.get_context("spawn")
        out: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=newswatch_run, args=(str(config), out))
        proc.start()
        ours = out.get()
        proc.join()
        plain_wall, plain_pages, plain_rss, plain_cpu = plain(urls)
        same_wall, same_pages, _, same_cpu = plain(urls, ours=True)
    rate, plain_rate = ours["articles"] / ours["wall"], plain_pages / plain_wall
    print(f"pages        {opts.n}, {sum(sizes) / len(sizes) / 1024:.0f} KiB each on average")
    print(f"newswatch    {ours['wall']:6.1f} s  {ours['articles']} articles  {rate:5.1f} pages/s "
          f"({ours['cpu']:.1f} s CPU in the main process; {ours['failures']} failures)")
    print(f"plain        {plain_wall:6.1f} s  {plain_pages} pages     {plain_rate:5.1f} pages/s "
          "(httpx + trafilatura.bare_extraction, 2 processes)")
    print(f"ratio        {rate / plain_rate:.2f}x   (goal >= 0.9x)")
    same_rate = same_pages / same_wall
    print(f"plain, our extractor {same_wall:6.1f} s  {same_rate:5.1f} pages/s (httpx + newswatch's extractor, "
          f"2 processes): the fetch+extract+write phase runs at "
          f"{ours['articles'] / ours['phases']['fetch+extract+write'] / same_rate:.2f}x of it")
    # On 2 busy cores, pages/s follow CPU per page: what each side spends bounds the ratio.
    ours_cpu = (ours["cpu"] + ours["workers_cpu"]) * 1000 / max(ours["articles"], 1)
    print(f"CPU per page newswatch {ours_cpu:.1f} ms (main process {ours['cpu'] * 1000 / max(ours['articles'], 1):.1f}, "
          f"extraction workers {ours['workers_cpu'] * 1000 / max(ours['articles'], 1):.1f}); plain "
          f"{plain_cpu * 1000 / plain_pages:.1f} ms; plain loop around our extractor {same_cpu * 1000 / same_pages:.1f} ms")
    print(f"bound        plain CPU / newswatch CPU = {plain_cpu / plain_pages * 1000 / ours_cpu:.2f}x; "
          f"plain CPU / our extractor's loop = {plain_cpu / plain_pages / (same_cpu / same_pages):.2f}x "
          "(the most any run around this extractor could reach)")
    for name, seconds in ours["phases"].items():
        print(f"  phase      {name:24s} {seconds:6.1f} s")
    print(f"peak RSS     main {ours['rss']:.0f} MiB, largest extraction worker {ours['workers_rss']:.0f} MiB, "
          f"plain process {plain_rss:.0f} MiB")


if __name__ == "__main__":
    main()
