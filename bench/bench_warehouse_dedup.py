"""How near-duplicate candidate search scales with the warehouse (no network).

Builds a DuckDB warehouse with N synthetic articles (random news-like word sequences,
one in 20 a trimmed copy of another), then measures:
- fingerprinting speed,
- the per-article LSH candidate query (``Store.band_candidates``) at that size,
- ``dedup.link_pending`` on a batch of 500 new articles (candidates + exact check),
- memory: the warehouse file size per article.

    python bench/bench_warehouse_dedup.py [N]        # default 20000
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.content import dedup  # noqa: E402
from pipeline.content import fingerprint as fp  # noqa: E402
from pipeline.store import Batch, article_id_for, open_writer  # noqa: E402

WORDS = [f"w{i}" for i in range(20000)]


def text(rng: random.Random, n: int = 600) -> str:
    # Zipf-like: common words often, rare words seldom, as in news text.
    return " ".join(WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] if rng.random() < 0.5
                    else rng.choice(WORDS) for _ in range(n))


def rows_for(i: int, body: str, now: datetime) -> tuple[dict, tuple]:
    print_ = fp.fingerprint(body)
    aid = article_id_for(f"https://bench.test/{i}")
    row = {"article_id": aid, "canonical_url": f"https://bench.test/{i}", "url": f"https://bench.test/{i}",
           "outlet_id": f"o{i % 300}", "status": "extracted", "title": f"title {i}", "body": body,
           "content_hash": print_.content_hash, "word_count": print_.word_count,
           "published_at": now - timedelta(minutes=i), "first_seen_at": now, "updated_at": now}
    return row, (aid, list(print_.minhash), list(print_.bands))


def main(n: int) -> None:
    rng = random.Random(7)
    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    bodies = [text(rng) for _ in range(n)]
    for i in range(0, n, 20):  # trimmed copies
        bodies[i] = " ".join(bodies[max(i - 1, 0)].split()[: 450])
    path = Path(tempfile.mkdtemp()) / "bench.duckdb"
    store = open_writer(path)
    t = time.perf_counter()
    batch = Batch()
    for i, body in enumerate(bodies):
        row, fps = rows_for(i, body, now)
        batch.articles.append(row)
        batch.fingerprints.append(fps)
    fp_ms = (time.perf_counter() - t) * 1000 / n
    t = time.perf_counter()
    for start in range(0, n, 5000):
        part = Batch(articles=batch.articles[start:start + 5000], fingerprints=batch.fingerprints[start:start + 5000])
        store.save_batch(part)
    load_s = time.perf_counter() - t
    store.con.execute("UPDATE articles SET dedup_at = ? WHERE article_id NOT IN "
                      "(SELECT article_id FROM articles ORDER BY first_seen_at, article_id DESC LIMIT 500)", [now])
    sample = [r[0] for r in store.con.execute("SELECT article_id FROM articles USING SAMPLE 50").fetchall()]
    t = time.perf_counter()
    for aid in sample:
        store.band_candidates(aid)
    cand_ms = (time.perf_counter() - t) * 1000 / len(sample)
    t = time.perf_counter()
    links = dedup.link_pending(store, now)
    link_s = time.perf_counter() - t
    store.close()
    size = path.stat().st_size
    print(f"articles                      {n}")
    print(f"fingerprint (600 words)       {fp_ms:.2f} ms/article")
    print(f"load (save_batch, 5000/txn)   {load_s:.1f} s")
    print(f"candidate query               {cand_ms:.1f} ms/article at {n} articles")
    print(f"link_pending, 500 new         {link_s:.1f} s ({links} links)")
    print(f"warehouse size                {size / n / 1024:.1f} KiB/article ({size / 2**20:.0f} MiB)")
    print(f"peak RSS                      {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
