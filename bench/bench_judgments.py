"""Corrections that teach, on real coverage: the cached real pages served on loopback, one
``newswatch run``, then the dev part's hand labels given as ``newswatch label`` judgments.

Prints, through the real command: ``eval --judged`` on the dev part (the scorer's own value,
each page scored with its own judgment left out, next to the keyword rule), and the stored
decisions on the *test* part (never judged) before and after ``rescore`` with the judgments
as examples: does teaching with the dev part help on pages nobody judged?

    python bench/bench_judgments.py [--cache /work/cache/coverage] [--dataset ../shared/eval/coverage-dev.json] [--limit N]

Needs the page cache (``bench/coverage_cache.py``); third-party text stays in the cache.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
import coverage_cache as cc  # noqa: E402


def newswatch(config: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--config", str(config), *args],
                         capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"newswatch {' '.join(args)}: exit {out.returncode}\n{out.stderr}")
    return out.stdout


def test_part(warehouse: Path, room: cc.Newsroom, split: dict[str, str]) -> str:
    """Precision / recall / F1 of the stored decisions on the never-judged test part."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        decided = dict(con.execute("SELECT a.url, s.decision FROM story_scores s JOIN articles a "
                                   "USING (article_id) WHERE s.story_id = 'rsi-pause'").fetchall())
    finally:
        con.close()
    pairs = [(decided.get(cc.page_url(room.base, r)) == "relevant", r.relevant)
             for r in room.records if split.get(r.id) == "test" and cc.page_url(room.base, r) in decided]
    tp, fp, fn = pairs.count((True, True)), pairs.count((True, False)), pairs.count((False, True))
    p, r = tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"test part (never judged): n {len(pairs)} tp {tp} fp {fp} fn {fn}  P {p:.3f} R {r:.3f} F1 {f1:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=cc.CACHE)
    ap.add_argument("--dataset", type=Path, default=cc.DATASET)
    ap.add_argument("--limit", type=int, default=0, help="judge only the first N dev pages (0: all)")
    args = ap.parse_args()
    records = cc.load_records(args.dataset)
    split = cc.split_of(records)
    room = cc.Newsroom(args.cache, records).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config, warehouse = Path(tmp) / "config", Path(tmp) / "w.duckdb"
            room.write_config(config, warehouse)
            newswatch(config, "run", "--all")
            print("before any judgment:", test_part(warehouse, room, split))
            dev = [r for r in room.records if split.get(r.id) == "dev"][: args.limit or None]
            for rec in dev:
                newswatch(config, "label", cc.page_url(room.base, rec), "--relevant" if rec.relevant else "--not",
                          "--by", "bench", "--note", rec.label)
            print(f"{len(dev)} dev pages judged; newswatch eval --judged:")
            print(newswatch(config, "eval", "--judged"))
            newswatch(config, "rescore")
            print("after rescore with the judgments as examples:", test_part(warehouse, room, split))
    finally:
        room.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
