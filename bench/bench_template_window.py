"""What keeping each outlet's template window (migration 0016) saves on pages of real length.

bench_dedup_scale.py's background pages have three-word bodies, so relearning an
outlet's template from its 60 recent pages costs little there. Here every stored page
has 800 words, as news pages do: O outlets with 60 stored pages each (a full window),
then 500 new articles spread over them (one in five a copy of a stored page). The
near-duplicate check (``dedup.link_pending``, in a fresh process as in
bench_dedup_scale.py) is timed three ways on copies of one warehouse:

- kept: the windows kept by the previous run (this code's steady state);
- relearnt: the same code with the windows dropped, so every touched outlet is relearnt
  from ``articles`` (what every run did before migration 0016);
- before: another checkout (``--before``), e.g. the main branch.

    python bench/bench_template_window.py [--outlets 100] [--before /work/main]

The base warehouse is built once into /work/cache/bench/templates-O.duckdb (never
committed).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_dedup_scale as scale  # noqa: E402

CACHE = scale.CACHE
WORDS = 800


def build(outlets: int, path: Path) -> float:
    """``outlets`` outlets with TEMPLATE_SAMPLE stored, checked 800-word pages each."""
    from pipeline.content import dedup, neardup
    from pipeline.store import Batch, open_writer

    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    store = open_writer(tmp)
    rng = random.Random(3)
    for n in range(neardup.TEMPLATE_SAMPLE):
        batch = Batch()
        for o in range(outlets):
            row, fps = scale.article_row(10_000_000 + n * outlets + o, scale.text(rng, WORDS), f"Stored {n} of {o}",
                                         f"o{o}", scale.NOW - timedelta(days=1, minutes=n))
            row["first_seen_at"] = row["published_at"]
            batch.articles.append(row)
            batch.fingerprints.append(fps)
        store.save_batch(batch)
    dedup.link_pending(store, scale.NOW - timedelta(hours=12))
    dedup.recluster(store)
    store.con.execute("CHECKPOINT")
    store.close()
    tmp.rename(path)
    return time.perf_counter() - started


def new_articles(outlets: int, base: Path):
    """500 new pages over the outlets; every fifth a copy of a stored page."""
    from pipeline.store import Batch, open_reader

    store = open_reader(base)
    stored = [r[0] for r in store.query("SELECT body FROM articles ORDER BY article_id LIMIT 100")[1]]
    store.close()
    rng = random.Random(11)
    batch = Batch()
    for i in range(scale.NEW):
        body = " ".join(stored[i // 5].split()[:600]) if i % 5 == 0 else scale.text(rng, WORDS)
        row, fps = scale.article_row(i, body, f"New {i}", f"o{i % outlets}", scale.NOW)
        batch.articles.append(row)
        batch.fingerprints.append(fps)
    return batch


def prepared(base: Path, outlets: int, drop_windows: bool) -> Path:
    from pipeline.store import open_writer

    work = base.with_name(base.stem + ".work.duckdb")
    shutil.copy(base, work)
    store = open_writer(work)
    if drop_windows:
        store.con.execute("DELETE FROM template_state")
    store.save_batch(new_articles(outlets, base))
    store.close()
    return work


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--outlets", type=int, default=100)
    ap.add_argument("--before", type=Path, help="another checkout (e.g. /work/main) to measure in the same run")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    base = CACHE / f"templates-{args.outlets}.duckdb"
    if not base.exists():
        print(f"built {base} in {build(args.outlets, base):.0f} s")
    runs = [("kept", ROOT, False), ("relearnt", ROOT, True)] + ([("before", args.before, True)] if args.before else [])
    for label, code, drop in runs:
        work = prepared(base, args.outlets, drop)
        r = scale.run_child(code, work)
        work.unlink()
        print(f"{args.outlets} outlets x 60 stored pages of {WORDS} words, {scale.NEW} new  {label:<8}  "
              f"check {r['check_ms_per_article']:6.2f} ms/article ({r['links']} links)  "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
