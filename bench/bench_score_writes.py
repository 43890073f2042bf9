"""Cost of saving story scores: N score rows into a fresh warehouse with
``Store.save_scores``, this code against another checkout (e.g. /work/main), each in its
own process. No network.

    python bench/bench_score_writes.py [N] [--before /work/main]     # default 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(n: int) -> dict:
    from pipeline.store import open_writer

    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    store = open_writer(Path(tempfile.mkdtemp()) / "scores.duckdb")
    rows = [("story", f"a{i:08d}", 0.5, "borderline", True, "seed.txt", 0.31, 0.9, '{"anchor": []}',
             '["score 0.50"]', "tfidf+terms", now) for i in range(n)]
    t = time.perf_counter()
    store.save_scores(rows)
    elapsed = time.perf_counter() - t
    saved = store.scalar("SELECT count(*) FROM story_scores")
    store.close()
    return {"ms_per_row": elapsed * 1000 / n, "saved": saved}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=2000)
    ap.add_argument("--before", type=Path)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.code:
        sys.path.insert(0, str(args.code))
        print(json.dumps(measure(args.n)))
        return
    for label, code in [("after", ROOT)] + ([("before", args.before)] if args.before else []):
        out = subprocess.run([sys.executable, __file__, str(args.n), "--code", str(code)], cwd=code,
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{label:<6} save_scores: {r['ms_per_row']:.3f} ms/row ({r['saved']} rows)")


if __name__ == "__main__":
    main()
