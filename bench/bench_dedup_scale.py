"""Near-duplicate check and recluster against a warehouse of 10k to 1M stored articles,
this code ("after") against another checkout ("before", e.g. the main branch), same run.

A base warehouse of N stored articles is built once with set-based SQL into
/work/cache/bench/dedup-N.duckdb (never committed) and reused:
- N - 2,000 "background" articles: short bodies, random MinHash signatures and LSH band
  keys (as unrelated texts have), titles unique inside their outlet, 5 % of them in
  pairs of confirmed copies (dup_links, clusters), all checked;
- 2,000 "real" articles: Zipf-like 600-word texts fingerprinted by the pipeline's own
  code, so new copies of them are real LSH candidates.
Each measurement copies the base file, migrates it (``open_writer``), learns every
outlet's template window once (migration 0016: a warehouse running this code keeps them
between runs; the base was built before), saves 500 new articles (copies of real ones,
copies of each other, same-outlet same-title republications within 7 days, and new
texts), then times ``dedup.link_pending`` (the near-duplicate check) and
``dedup.recluster`` in a fresh process, and reports that process's peak RSS.

    python bench/bench_dedup_scale.py 10000 100000 1000000 [--before /work/main] [--memory-limit 400MB]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path("/work/cache/bench")
NOW = datetime(2026, 6, 10, tzinfo=timezone.utc)
REAL = 2000
NEW = 500
OUTLETS = 2000
WORDS = [f"w{i}" for i in range(20000)]


def text(rng: random.Random, n: int = 600) -> str:
    # Zipf-like: common words often, rare words seldom, as in news text.
    return " ".join(WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] if rng.random() < 0.5
                    else rng.choice(WORDS) for _ in range(n))


def article_row(i: int, body: str, title: str, outlet: str, published: datetime) -> tuple[dict, tuple]:
    from pipeline.content import fingerprint as fp
    from pipeline.store import article_id_for

    print_ = fp.fingerprint(body)
    url = f"https://bench.test/new/{i}"
    aid = article_id_for(url)
    row = {"article_id": aid, "canonical_url": url, "url": url, "outlet_id": outlet, "status": "extracted",
           "title": title, "body": body, "content_hash": print_.content_hash, "word_count": print_.word_count,
           "published_at": published, "first_seen_at": NOW, "updated_at": NOW}
    return row, (aid, list(print_.minhash), list(print_.bands))


# ---------------------------------------------------------------- the base warehouse

BACKGROUND_SQL = [
    # articles: i in [0, n); the last REAL ids are replaced by real texts below
    """INSERT INTO articles (article_id, canonical_url, url, outlet_id, status, title, body, content_hash,
           word_count, published_at, first_seen_at, updated_at, dedup_at)
       SELECT md5('a' || i)[:24], 'https://bench.test/a/' || i, 'https://bench.test/a/' || i, 'o' || (i % {outlets}),
              'extracted', 'Background headline number ' || i || ' about matters', 'short body ' || i, md5('c' || i),
              50, TIMESTAMPTZ '2026-06-10' - to_minutes((i * 7) % 1051200), TIMESTAMPTZ '2026-06-10', TIMESTAMPTZ '2026-06-10',
              TIMESTAMPTZ '2026-06-10'
       FROM range({background}) t(i)""",
    """INSERT INTO fingerprints SELECT md5('a' || i)[:24], list_transform(range(128), lambda x: hash(i, x))
       FROM range({background}) t(i)""",
    """INSERT INTO lsh_bands SELECT (hash(i, b, 'band') >> 1)::BIGINT, md5('a' || i)[:24]
       FROM range({background}) t(i), range(64) u(b)""",
    # 5 % in pairs of copies: i and i + 1 for i % 40 in (0, 1) ... i.e. i % 20 = 0
    """INSERT INTO dup_links SELECT least(md5('a' || i)[:24], md5('a' || (i + 1))[:24]),
              greatest(md5('a' || i)[:24], md5('a' || (i + 1))[:24]), 'copy', 0.8, 0.9, TIMESTAMPTZ '2026-06-10'
       FROM range(0, {background} - 1, 40) t(i)""",
    """INSERT INTO clusters SELECT md5('a' || i)[:24],
              CASE WHEN i % 40 = 1 THEN md5('a' || (i - 1))[:24] ELSE md5('a' || i)[:24] END, i % 40 <> 1
       FROM range({background}) t(i)""",
]


def build(n: int, path: Path) -> float:
    """The base warehouse of ``n`` stored articles; returns the seconds it took."""
    from pipeline.content import dedup
    from pipeline.store import Batch, open_writer

    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    store = open_writer(tmp)
    background = n - REAL
    with store.transaction():
        for sql in BACKGROUND_SQL:
            store.con.execute(sql.format(background=background, outlets=OUTLETS))
    _background_title_keys(store, background)
    rng = random.Random(7)
    batch = Batch()
    for i in range(REAL):
        row, fps = article_row(1_000_000 + i, text(rng), f"Real report {i} on the harbour plan vote",
                               f"o{i % OUTLETS}", NOW - timedelta(hours=i))
        batch.articles.append(row)
        batch.fingerprints.append(fps)
    store.save_batch(batch)
    dedup.link_pending(store, NOW)
    dedup.recluster(store)
    store.con.execute("CHECKPOINT")
    store.close()
    tmp.rename(path)
    return time.perf_counter() - started


def _background_title_keys(store, background: int) -> None:
    from pipeline.content import dedup

    for start in range(0, background, 200_000):
        rows = [(dedup._title_key({"outlet_id": f"o{i % OUTLETS}", "title": f"Background headline number {i} about matters"}), i)
                for i in range(start, min(background, start + 200_000))]
        store.con.execute("INSERT INTO title_keys SELECT md5('a' || unnest(?::BIGINT[]))[:24], unnest(?::BIGINT[])",
                          [[i for _, i in rows], [k for k, _ in rows]])
    store.con.execute("DELETE FROM store_tasks")


def new_articles(n: int):
    """The 500 new articles: 100 copies of real stored texts, 100 pairs among themselves,
    50 republications of a stored article's title in its outlet 3 days later, 150 new."""
    from pipeline.store import Batch

    rng = random.Random(11)
    real = random.Random(7)
    real_texts = [text(real) for _ in range(REAL)]
    batch = Batch()
    fresh = [text(rng) for _ in range(250)]
    for i in range(NEW):
        if i < 100:
            body, title = " ".join(real_texts[i * 7].split()[:450]), f"Copy {i} of a real report"
            outlet, published = f"o{(i + 5) % OUTLETS}", NOW
        elif i < 300:
            body, title = fresh[(i - 100) // 2], f"Wire story {(i - 100) // 2} as carried by outlet {i}"
            outlet, published = f"o{i % OUTLETS}", NOW
        elif i < 350:
            k = (i * 997) % (n - REAL)  # a background article: same outlet, same title
            body, title = text(rng), f"Background headline number {k} about matters"
            outlet, published = f"o{k % OUTLETS}", NOW - timedelta(minutes=(k * 7) % 1051200) + timedelta(days=3)
        else:
            body, title, outlet, published = text(rng), f"New item {i} on something else", f"o{i % OUTLETS}", NOW
        row, fps = article_row(i, body, title, outlet, published)
        batch.articles.append(row)
        batch.fingerprints.append(fps)
    return batch


# ---------------------------------------------------------------- one measurement (a child process)

def measure(path: Path, memory_limit: str | None = None) -> dict:
    from pipeline.content import dedup
    from pipeline.store import open_writer

    store = open_writer(path, memory_limit) if memory_limit else open_writer(path)
    t = time.perf_counter()
    links = dedup.link_pending(store, NOW)
    check_s = time.perf_counter() - t
    t = time.perf_counter()
    clusters = dedup.recluster(store)
    recluster_s = time.perf_counter() - t
    found = store.query("SELECT count(*), count(DISTINCT cluster_id) FROM clusters")[1][0]
    store.close()
    return {"check_ms_per_article": check_s * 1000 / NEW, "links": links, "recluster_s": recluster_s,
            "clusters_written": clusters, "cluster_rows": found[0], "cluster_ids": found[1],
            "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited
    from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(code_root: Path, path: Path, memory_limit: str | None = None) -> dict:
    limit = ["--memory-limit", memory_limit] if memory_limit else []
    out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--code", str(code_root), *limit],
                         capture_output=True, text=True, check=True, cwd=code_root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepared_copy(base: Path, n: int) -> tuple[Path, float, float]:
    """A copy of the base with the new articles saved; also (seconds) its migration by
    ``open_writer`` and the learning of every outlet's template window (migration 0016),
    which a warehouse running this code holds already: the base was built before it."""
    from pipeline.content import dedup
    from pipeline.store import open_writer

    work = base.with_name(base.stem + ".work.duckdb")
    shutil.copy(base, work)
    t = time.perf_counter()
    store = open_writer(work)
    migrated = time.perf_counter() - t
    t = time.perf_counter()
    outlets = {r[0] for r in store.query("SELECT DISTINCT outlet_id FROM articles WHERE outlet_id IS NOT NULL")[1]}
    if not store.template_windows(sorted(outlets)):
        dedup.learn_templates(store, outlets, NOW)
    learnt = time.perf_counter() - t
    store.save_batch(new_articles(n))
    store.close()
    return work, migrated, learnt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10_000])
    ap.add_argument("--before", type=Path, help="another checkout (e.g. /work/main) to measure in the same run")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--memory-limit", help="[warehouse] memory_limit for the measured process, e.g. 400MB")
    args = ap.parse_args()
    if args.measure:
        sys.path.insert(0, str(args.code))
        print(json.dumps(measure(args.measure, args.memory_limit)))
        return
    sys.path.insert(0, str(ROOT))
    CACHE.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        base = CACHE / f"dedup-{n}.duckdb"
        if not base.exists():
            built = build(n, base)
            print(f"built {base} ({n} articles) in {built:.0f} s, {base.stat().st_size / 2**20:.0f} MiB, "
                  f"builder peak RSS {peak_rss_mib():.0f} MiB")
        for label, code in [("after", ROOT)] + ([("before", args.before)] if args.before else []):
            work, migrated, learnt = prepared_copy(base, n)
            r = run_child(code, work, args.memory_limit)
            work.unlink()
            print(f"{n:>8} stored  (copy of the base: migrated in {migrated:.1f} s, every outlet's template window "
                  f"learnt in {learnt:.1f} s)")
            print(f"{n:>8} stored  {label:<6}  check {r['check_ms_per_article']:6.2f} ms/article "
                  f"({r['links']} links)  recluster {r['recluster_s']:7.2f} s  "
                  f"({r['clusters_written']} clusters of copies written; {r['cluster_rows']} rows, "
                  f"{r['cluster_ids']} clusters)  peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
