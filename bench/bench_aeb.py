"""Extraction quality on real pages: the Article Extraction Benchmark through `newswatch run`.

Serves every page of ``../shared/eval/aeb`` (or the folder given) on loopback as
``text/html`` WITHOUT a charset parameter, lists them in one RSS feed (dated), runs the
real ``newswatch run`` command on it, and compares, page by page, the token F1 (bag of
lowercased word tokens) of the text stored in the warehouse against the hand-made ground
truth, next to trafilatura alone (``trafilatura.extract`` with its defaults) on the same
bytes. The real page addresses of the ground truth are never fetched: each page is served
at ``/aeb/<id>.html`` on 127.0.0.1, and trafilatura alone gets the real URL only as a
string. A page whose stored text holds UTF-8-read-as-Latin-1 sequences absent from the
ground truth is counted as mojibake (titles too).

    python bench/bench_aeb.py [AEB_DIR] [--quiet]
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path

import duckdb
import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from newsroom import Newsroom  # noqa: E402

DEFAULT_AEB = ROOT.parent / "shared" / "eval" / "aeb"
_TOKEN = re.compile(r"\w+", re.UNICODE)
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00c5\u00d0\u00d1\u00e2\u00e3\u00e5\u00e6\u00e7\u00e8\u00e9]"
                       "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u02c6\u02dc"
                       "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


def tokens(text: str) -> Counter[str]:
    return Counter(t.lower() for t in _TOKEN.findall(text or ""))


def f1(got: str, truth: str) -> float:
    a, b = tokens(got), tokens(truth)
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def mojibake(got: str, truth: str) -> bool:
    return len(_MOJIBAKE.findall(got or "")) > len(_MOJIBAKE.findall(truth or ""))


def load(aeb: Path) -> dict[str, tuple[str, str, bytes]]:
    truth = json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: (item["url"], item["articleBody"], gzip.decompress((aeb / "html" / f"{key}.html.gz").read_bytes()))
            for key, item in truth.items()}


def publish(room: Newsroom, pages: dict[str, tuple[str, str, bytes]]) -> None:
    start, items = datetime(2026, 6, 5, tzinfo=timezone.utc), []
    for i, (key, (_, _, raw)) in enumerate(sorted(pages.items())):
        path = f"/aeb/{key}.html"
        room.set_route(path, body=raw, content_type="text/html")  # no charset: as many servers do
        items.append(f"<item><title>page {i}</title><link>{room.url(path)}</link><guid>{path}</guid>"
                     f"<pubDate>{format_datetime(start + timedelta(minutes=i))}</pubDate></item>")
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>AEB</title>"
            f"<link>{room.url('/aeb/')}</link>{''.join(items)}</channel></rss>")
    room.set_route("/aeb/feed.xml", body=feed.encode(), content_type="application/rss+xml")


def run_newswatch(room: Newsroom, tmp: Path, n: int) -> dict[str, tuple[str, str]]:
    warehouse = tmp / "warehouse" / "newswatch.duckdb"
    config = room.write_config(tmp / "config", warehouse,
                               http={"max_pages_per_source": n + 10, "page_timeout": 30, "feed_timeout": 30})
    (config / "sources.toml").write_text(
        f'[[source]]\nid = "aeb"\nkind = "feed"\nurl = "{room.url("/aeb/feed.xml")}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()} | {"NEWSWATCH_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run"], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=1800)
    print(f"newswatch run: exit {done.returncode}", file=sys.stderr)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute("SELECT url, coalesce(body, ''), coalesce(title, '') FROM articles").fetchall()
    return {url.rsplit("/", 1)[-1].removesuffix(".html"): (body, title) for url, body, title in stored}


def main(aeb: Path, quiet: bool) -> None:
    pages = load(aeb)
    tmp = Path(tempfile.mkdtemp(prefix="bench-aeb-"))
    with Newsroom() as room:
        publish(room, pages)
        stored = run_newswatch(room, tmp, len(pages))
    rows = []
    for key, (url, truth, raw) in sorted(pages.items()):
        alone = trafilatura.extract(raw, url=url) or ""
        ours, title = stored.get(key, ("", ""))
        rows.append((key, f1(ours, truth), f1(alone, truth), mojibake(ours, truth), mojibake(alone, truth),
                     mojibake(title, truth), bool(title)))
        if not quiet:
            print(f"{key[:12]}  newswatch {rows[-1][1]:.3f}  trafilatura {rows[-1][2]:.3f}"
                  f"{'  MOJIBAKE' if rows[-1][3] else ''}")
    n = len(rows)
    ours_avg, alone_avg = sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n
    at_least = sum(r[1] >= r[2] - 1e-9 for r in rows)
    print(f"pages {n}  stored {len(stored)}")
    print(f"mean token F1: newswatch run {ours_avg:.4f}   trafilatura alone {alone_avg:.4f}")
    print(f"pages where newswatch >= trafilatura: {at_least}/{n} ({at_least / n:.1%})")
    print(f"mojibake pages: newswatch {sum(r[3] for r in rows)}   trafilatura alone {sum(r[4] for r in rows)}")
    print(f"titles stored: {sum(r[6] for r in rows)}/{n}, mojibake titles: {sum(r[5] for r in rows)}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(Path(args[0]) if args else DEFAULT_AEB, "--quiet" in sys.argv)
