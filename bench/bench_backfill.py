"""Backfill throughput against the bare minimum, in one run (no network at all).

Writes a WARC of N generated article pages (sentences of the seed articles shuffled into
new texts under realistic boilerplate, as bench_ingest.py makes them), gzip per record,
each response preceded by its request record, as Common Crawl stores them; then measures
records per second of:
- reading alone: FastWARC (and warcio, when installed: the library choice);
- FastWARC + bare trafilatura.extract per page, one process: the floor to compare with;
- `backfill` on 1 and on 2 worker processes: extraction, fingerprints, outlets, shards,
  then loading, dedup and scores (reported apart and together);
and peak memory (largest resident set of this process and of any worker process).

    python bench/bench_backfill.py [N [FILES]]      # default 400 pages in 4 files
    python bench/bench_backfill.py --aeb [FILES]    # the 181 real pages of ../shared/eval/aeb

With ``--aeb`` the pages are real (many sites, languages and encodings, under their own
URLs, served as "text/html" without a charset so the encoding is sniffed as a crawler
would); nothing is fetched either way: backfill reads the WARC files only.
"""

from __future__ import annotations

import gzip
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import trafilatura  # noqa: E402
from bench_ingest import PAGE, sentences  # noqa: E402
from fastwarc.warc import ArchiveIterator, WarcRecordType  # noqa: E402
from newsroom import Newsroom  # noqa: E402
from warcfiles import archive_of, write_warc  # noqa: E402

from pipeline.acquire.warc import PageFilter  # noqa: E402
from pipeline.backfill.runner import BackfillPlan, backfill  # noqa: E402
from pipeline.config import load_settings  # noqa: E402


AEB = ROOT.parent / "shared" / "eval" / "aeb"


def make_warcs(folder: Path, pages: list[tuple], files: int) -> list[Path]:
    """The pages spread over ``files`` files (a pool reads one file per process)."""
    n = len(pages)
    step = -(-n // files)
    return [write_warc(folder / f"bench-{i:02d}.warc.gz", archive_of(pages[i * step:(i + 1) * step], noise=False))
            for i in range(files)]


def make_pages(base: str, n: int) -> list[tuple[str, bytes]]:
    rng, pool = random.Random(5), sentences()
    start = datetime(2026, 6, 5, tzinfo=timezone.utc)
    pages = []
    for i in range(n):
        url = f"{base}/bench-daily/{i:05d}.html"
        body = "".join(f"<p>{escape(' '.join(rng.sample(pool, 4)))}</p>" for _ in range(8))
        title = f"Bench story {i}: " + " ".join(rng.choice(pool).split()[:8])
        html = PAGE.format(title=escape(title), when=(start + timedelta(minutes=7 * i)).isoformat(),
                           url=url, paragraphs=body)
        pages.append((url, html.encode()))
    return pages


def aeb_pages() -> list[tuple[str, bytes, str]]:
    """The real pages of the extraction benchmark, under their own URLs."""
    truth = json.loads((AEB / "ground-truth.json").read_text(encoding="utf-8"))
    return [(truth[key]["url"], gzip.decompress((AEB / "html" / f"{key}.html.gz").read_bytes()), "text/html")
            for key in sorted(truth)]


def read_fastwarc(paths: list[Path], extract: bool = False) -> int:
    n = 0
    for path in paths:
        with open(path, "rb") as stream:
            for rec in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
                body = rec.reader.read()
                if extract:
                    trafilatura.extract(body, url=rec.headers.get("WARC-Target-URI"))
                n += 1
    return n


def read_warcio(paths: list[Path]) -> int | None:
    try:
        from warcio.archiveiterator import ArchiveIterator as WarcioIterator
    except ImportError:
        return None
    n = 0
    for path in paths:
        with open(path, "rb") as stream:
            for rec in WarcioIterator(stream):
                if rec.rec_type == "response":
                    rec.content_stream().read()
                    n += 1
    return n


def timed(label: str, func, records: int | None = None) -> float:
    t = time.perf_counter()
    got = func()
    seconds = time.perf_counter() - t
    count = records if records is not None else got
    if got is None:
        print(f"{label:44s}  (not installed)")
        return 0.0
    print(f"{label:44s} {seconds:7.2f} s  {count / seconds:9.1f} records/s")
    return count / seconds


def run_backfill(config: Path, warcs: list[Path], shards: Path, workers: int) -> dict:
    settings = load_settings(config)
    plan = BackfillPlan(tuple(warcs), shards, PageFilter(), workers=workers)
    return backfill(settings, plan, datetime(2026, 6, 20, tzinfo=timezone.utc))


def main(n: int, files: int, real: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp())
    with Newsroom() as room:  # only its configuration is used: nothing is fetched
        pages = aeb_pages() if real else make_pages(room.base_url, n)
        n = len(pages)
        warc = make_warcs(tmp, pages, files)
        configs = [room.write_config(tmp / f"config{w}", tmp / f"w{w}" / "newswatch.duckdb") for w in (1, 2)]
    size = sum(p.stat().st_size for p in warc) / 2**20
    print(f"{files} WARC files: {n} responses + {n} requests, {size:.1f} MiB, gzip per record")
    timed("FastWARC, read bodies", lambda: read_fastwarc(warc))
    timed("warcio, read bodies", lambda: read_warcio(warc))
    floor = timed("FastWARC + bare trafilatura.extract, 1 core", lambda: read_fastwarc(warc, extract=True))
    for workers, config in zip((1, 2), configs):
        summary = run_backfill(config, warc, tmp / f"shards{workers}", workers)
        rate = summary["records_per_second"]
        total = summary["seconds"] + summary["load_seconds"]
        print(f"{'backfill, %d worker%s (tasks)' % (workers, 's' if workers > 1 else ''):44s} "
              f"{summary['seconds']:7.2f} s  {rate:9.1f} records/s  ({rate / floor:.2f} x bare trafilatura)")
        print(f"{'  + load, dedup, scores':44s} {total:7.2f} s  {n / total:9.1f} records/s overall, "
              f"{summary['articles_kept']} articles kept")
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {self_mib:.0f} MiB, largest worker process {child_mib:.0f} MiB")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--aeb"]
    if "--aeb" in sys.argv:
        main(0, int(args[0]) if args else 4, real=True)
    else:
        main(int(args[0]) if args else 400, int(args[1]) if len(args) > 1 else 4)
