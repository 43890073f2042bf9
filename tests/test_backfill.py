"""Issue 13: backfill from WARC archives, through the real command.

The loopback newsroom is ingested once by `newswatch run`; the pages it extracted are
then fetched again from the newsroom and written into a WARC file at test time (FastWARC,
one gzip member per record, with request records, an image, a page of an unwanted host
and a truncated record among them). `newswatch backfill` of that file into a second
warehouse must give the same articles and the same scores.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import threading
from datetime import timedelta
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from conftest import make_site, rows, set_setting, start_newswatch, table_contents
from newsroom import Newsroom
from warcfiles import CAPTURED, archive_of, newsroom_pages, record, write_warc

from pipeline.acquire.warc import PageFilter, ReadStats, iter_pages
from pipeline.backfill import shards

ARTICLE_COLUMNS = ("article_id", "canonical_url", "url", "outlet_id", "status", "title", "author",
                   "published_at", "site_name", "language", "description", "body", "content_hash",
                   "word_count", "declared_canonical", "published_source", "date_guess", "encoding",
                   "encoding_source", "extract_notes")
SCORE_COLUMNS = ("story_id", "article_id", "score", "decision", "in_window", "nearest_seed", "lexical")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """(room, fetched site, the newsroom's extracted pages as a WARC, hosts file)."""
    tmp = tmp_path_factory.mktemp("backfill")
    with Newsroom() as room:
        fetched = make_site(room, tmp / "fetched")
        result = fetched.run("run", "--all")
        assert result.returncode == 0, result.stderr
        urls = [r[0] for r in rows(fetched.warehouse, "SELECT url FROM articles WHERE status = 'extracted' "
                                                      "ORDER BY url")]
        warc = write_warc(tmp / "news-0001.warc.gz", archive_of(newsroom_pages(urls)))
        hosts = tmp / "hosts.txt"
        hosts.write_text("# the newsroom\n127.0.0.1\n", encoding="utf-8")
        yield room, fetched, warc, hosts


def backfilled(room: Newsroom, tmp: Path, *args: str):
    site = make_site(room, tmp)
    result = site.run("backfill", *args)
    assert result.returncode == 0, result.stderr
    return site, json.loads(result.stdout)


def article_rows(warehouse: Path) -> list[tuple]:
    return rows(warehouse, f"SELECT {', '.join(ARTICLE_COLUMNS)} FROM articles WHERE status = 'extracted' "
                           "ORDER BY article_id")


def score_rows(warehouse: Path) -> list[tuple]:
    return rows(warehouse, f"SELECT {', '.join(SCORE_COLUMNS)} FROM story_scores s JOIN articles a "
                           "USING (article_id) WHERE a.status = 'extracted' ORDER BY 1, 2")


def test_backfilled_articles_and_scores_equal_fetched_ones_and_stay_so(world, tmp_path):
    room, fetched, warc, hosts = world
    copy = tmp_path / "news-0002.warc.gz"  # the same pages captured again, in another file
    copy.write_bytes(warc.read_bytes() + record("http://127.0.0.1:9/extra", b"<html></html>"))
    site, summary = backfilled(room, tmp_path / "site", str(warc), str(copy), "--hosts", str(hosts),
                               "--workers", "2")
    assert article_rows(site.warehouse) == article_rows(fetched.warehouse)
    assert score_rows(site.warehouse) == score_rows(fetched.warehouse)
    assert {r[3] for r in score_rows(site.warehouse)} >= {"relevant", "not"}
    articles = len(article_rows(fetched.warehouse))
    assert summary["articles_kept"] == 2 * articles and summary["loaded"]["new_articles"] == articles
    assert summary["loaded"]["new_sightings"] == 2 * articles  # one article, two captures
    channels = rows(site.warehouse, "SELECT DISTINCT channel, source_id FROM discovery_channels")
    assert channels == [("backfill", "backfill")]
    # each article says where its page can be read again (`newswatch reextract`)
    assert rows(site.warehouse, "SELECT DISTINCT warc_file FROM articles WHERE status = 'extracted'") == [(str(warc),)]
    # compact, then a second invocation: neither changes what is stored
    root = site.warehouse.parent / "backfill"
    before, files = _shard_rows(root), len(list((root / shards.PAGES).rglob("*.parquet")))
    result = site.run("compact")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["partitions_merged"] > 0
    assert len(list((root / shards.PAGES).rglob("*.parquet"))) < files
    assert _shard_rows(root) == before
    tables = ["articles", "article_urls", "sightings", "story_scores", "clusters", "lsh_bands", "backfill_files"]
    contents = table_contents(site.warehouse, tables)
    again = site.run("backfill", str(warc), str(copy), "--hosts", str(hosts))
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["files_done_before"], summary["records"], summary["loaded"]["files"]) == (2, 0, 0)
    assert table_contents(site.warehouse, tables) == contents


def test_reader_skips_other_records_and_reads_past_a_truncated_one(world):
    room, fetched, warc, hosts = world
    stats = ReadStats()
    pages = list(iter_pages(warc, PageFilter(frozenset({"127.0.0.1"})), stats))
    expected = [r[0] for r in rows(fetched.warehouse, "SELECT url FROM articles WHERE status = 'extracted' "
                                                      "ORDER BY url")]
    assert sorted(p.url for p in pages) == expected  # every page, also those after the cut
    assert (stats.not_html, stats.not_ok, stats.unreadable) == (1, 1, 1)
    assert "unwanted.localhost" not in {p.host for p in pages}
    everything = ReadStats()
    assert len(list(iter_pages(warc, PageFilter(), everything))) == len(pages) + 1  # the other host


def test_plain_and_whole_file_gzip_archives_read_alike_and_resync(tmp_path):
    body = b"<html><body>" + b"<p>a few words of text</p>" * 30 + b"</body></html>"
    plain = b"".join(record(f"http://127.0.0.1/{i}", body, compress=False) for i in range(3))
    cut = plain[: len(plain) * 2 // 3] + b"garbage\r\n" + record("http://127.0.0.1/x", body, compress=False)
    files = {"plain.warc": plain, "whole.warc.gz": gzip.compress(plain), "cut.warc": cut}
    found = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        stats = ReadStats()
        found[name] = ([p.url for p in iter_pages(tmp_path / name, PageFilter(), stats)], stats.unreadable)
    urls = [f"http://127.0.0.1/{i}" for i in range(3)]
    assert found["plain.warc"] == found["whole.warc.gz"] == (urls, 0)
    assert found["cut.warc"] == (urls[:2] + ["http://127.0.0.1/x"], 1)


def test_story_option_keeps_only_pages_the_story_does_not_rule_out(world, tmp_path):
    room, fetched, warc, hosts = world
    garbage = tmp_path / "garbage.warc.gz"
    garbage.write_bytes(b"this is not an archive\n" * 50)
    listing = tmp_path / "files.txt"  # bad inputs are named and the rest is read
    listing.write_text(f"{warc}\nmissing.warc.gz\n{garbage}\n", encoding="utf-8")
    site, summary = backfilled(room, tmp_path / "site", str(listing), "--story", "rsi-pause")
    assert summary["files"] == 3 and summary["files_failed"] == 1
    assert any("missing.warc.gz" in e for e in summary["errors"])
    assert any("garbage.warc.gz" in e for e in summary["errors"])
    ruled_out = rows(fetched.warehouse, "SELECT count(*) FROM story_scores s JOIN articles a USING (article_id) "
                                        "WHERE a.status = 'extracted' AND s.decision = 'not'")[0][0]
    assert ruled_out > 0 and summary["off_story"] >= ruled_out
    assert rows(site.warehouse, "SELECT count(*) FROM story_scores s JOIN articles a USING (article_id) "
                                "WHERE a.status = 'extracted' AND s.decision = 'not'") == [(0,)]
    kept = {r[0] for r in article_rows(site.warehouse)}
    assert kept and kept < {r[0] for r in article_rows(fetched.warehouse)}


def test_export_writes_a_snapshot_duckdb_reads_back(world, tmp_path):
    room, fetched, warc, hosts = world
    site = make_site(room, tmp_path / "site")  # a copy: a judgment changes the stored decisions
    site.warehouse.parent.mkdir(parents=True)
    shutil.copyfile(fetched.warehouse, site.warehouse)
    url = rows(site.warehouse, "SELECT url FROM articles WHERE status = 'extracted' ORDER BY url LIMIT 1")[0][0]
    assert site.run("label", url, "--not", "--note", "checked by hand", "--by", "ada").returncode == 0
    result = site.run("export", str(tmp_path / "out"), "--story", "rsi-pause")
    assert result.returncode == 0, result.stderr
    folder = Path(json.loads(result.stdout)["folder"])
    about = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    assert about["newswatch_version"] and about["story_definition"]["id"] == "rsi-pause"
    assert "[warehouse]" in about["settings"]
    con = duckdb.connect()
    try:
        daily = con.execute(f"SELECT * FROM '{folder / 'story_daily.parquet'}' ORDER BY day").fetchall()
        scores = con.execute(f"SELECT count(*) FROM '{folder / 'story_scores.parquet'}'").fetchone()[0]
        judged = con.execute(f"SELECT * FROM '{folder / 'judgments.parquet'}'").fetchall()
    finally:
        con.close()
    assert daily == rows(site.warehouse, "SELECT * FROM story_daily WHERE story_id = 'rsi-pause' ORDER BY day")
    assert scores == about["files"]["story_scores.parquet"] > 0
    assert judged == rows(site.warehouse, "SELECT * FROM judgments") and judged[0][6:] == (url, "checked by hand")


def _shard_rows(root: Path) -> list[tuple]:
    con = duckdb.connect()
    try:
        return sorted(con.execute(f"SELECT warc_key, record_id, article_id, source, month FROM read_parquet("
                                  f"'{shards.shard_glob(root)}', hive_partitioning = true)").fetchall())
    finally:
        con.close()


def test_a_killed_pool_worker_is_replaced_and_its_file_read_again_once(world, tmp_path):
    room, fetched, warc, hosts = world
    big = _big_warc(warc, tmp_path / "big.warc.gz", copies=4)
    site = make_site(room, tmp_path / "site")
    proc = start_newswatch(["backfill", str(big), str(warc), "--workers", "1"], config=site.config, cwd=site.cwd)
    root = site.warehouse.parent / "backfill"
    worker = _wait_for_work(root, proc)
    os.kill(worker, signal.SIGKILL)  # the pool process, in the middle of a file: the pool breaks
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(out)  # a new pool read both files, the cut one from the start
    assert (summary["files_read"], summary["files_failed"], summary["loaded"]["files"]) == (2, 0, 2), summary
    assert summary["articles_kept"] == summary["loaded"]["new_sightings"]
    assert len(_shard_rows(root)) == len({r[:2] for r in _shard_rows(root)}) == summary["articles_kept"]
    assert {r[0] for r in article_rows(site.warehouse)} >= {r[0] for r in article_rows(fetched.warehouse)}
    assert not shards.work_folders(root)  # nothing of the dead worker is left behind
    again = site.run("backfill", str(big), str(warc))
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["files_done_before"], json.loads(again.stdout)["records"]) == (2, 0)


def test_a_file_that_kills_its_worker_every_time_is_named_and_skipped(world, tmp_path):
    room, fetched, warc, hosts = world
    deadly = tmp_path / "deadly.warc.gz"
    deadly.write_bytes(warc.read_bytes())
    site = make_site(room, tmp_path / "site")
    root = site.warehouse.parent / "backfill"
    proc = start_newswatch(["backfill", str(deadly), str(warc), "--workers", "2"], config=site.config, cwd=site.cwd)
    killed = _kill_every_reader(root, deadly, proc)  # as an OOM killer would, at each attempt
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert len(killed) == 3 and summary["files_failed"] == 1 and summary["files_read"] == 1, summary
    assert [e for e in summary["errors"] if str(deadly) in e] == [
        f"{deadly}: not finished: its worker process died 3 times; skipped"]
    assert summary["loaded"]["files"] == 1 and summary["loaded"]["new_articles"] == summary["articles_kept"] > 0
    assert {r[0] for r in rows(site.warehouse, "SELECT warc_name FROM backfill_files")} == {warc.name}


def _kill_every_reader(root: Path, warc: Path, proc) -> list[int]:
    """SIGKILL each process that starts reading ``warc``, until the coordinator ends."""
    killed: list[int] = []
    while proc.poll() is None:
        for name in shards.work_folders(root):
            key, pid = shards.work_owner(name)
            if key.startswith(warc.name) and pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.005)
    return killed


def _big_warc(warc: Path, target: Path, copies: int) -> Path:
    """The pages again and again under other URLs: a file long enough to be cut in the middle."""
    pages = [(p.url, p.body) for p in iter_pages(warc, PageFilter(), ReadStats())]
    many = [(f"{url}?copy={i}", body) for i in range(copies) for url, body in pages]
    return write_warc(target, archive_of(many, noise=False, captured=CAPTURED + timedelta(days=1)))


def _wait_for_work(root: Path, proc, timeout: float = 60) -> int:
    """The pid of the process that started reading a file (named in its work folder)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list((root / shards.WORK).glob("*")) if (root / shards.WORK).is_dir() else []
        if found:
            return int(found[0].name.split(".")[-2])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("no file was started")


# ---------------------------------------------------------------- on a Dask cluster


@pytest.fixture()
def cluster():
    """Two Dask worker processes and their scheduler, all on loopback."""
    distributed = pytest.importorskip("distributed", reason="Dask is not installed (pip install 'newswatch[dask]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0") as local:
        yield local


def test_a_dask_cluster_gives_the_pool_result_and_survives_a_killed_worker(world, cluster, tmp_path):
    from datetime import datetime, timezone

    from pipeline.backfill.runner import BackfillPlan, backfill
    from pipeline.config import load_settings

    room, fetched, warc, hosts = world
    big = _big_warc(warc, tmp_path / "big.warc.gz", copies=4)
    site = make_site(room, tmp_path / "site")
    root = site.warehouse.parent / "backfill"
    plan = BackfillPlan((warc, big), root, PageFilter(frozenset({"127.0.0.1"})), scheduler=cluster.scheduler_address)
    killed: list[int] = []
    during: list[tuple[int, int]] = []  # what the progress line shows of files not finished yet
    killer = threading.Thread(target=lambda: killed.append(_kill_first_worker(root, big, during)), daemon=True)
    killer.start()
    summary = backfill(load_settings(site.config), plan, datetime.now(timezone.utc),
                       lambda t: during.append(t.reading))
    killer.join(timeout=5)
    assert any(records > 0 and kept > 0 for records, kept in during)  # progress inside a file
    assert killed and killed[0] > 0  # a worker process died in the middle of a file
    assert summary["files_read"] == 2 and summary["files_failed"] == 0
    assert summary["articles_kept"] == summary["loaded"]["new_sightings"]
    assert len(_shard_rows(root)) == len({r[:2] for r in _shard_rows(root)}) == summary["articles_kept"]
    # The newsroom's pages came out as from the pool, whose rows equal `run`'s (the big
    # file's captures are a day later, so an article's row is its first capture's).
    fetched_rows = article_rows(fetched.warehouse)
    assert [r for r in article_rows(site.warehouse) if r[0] in {f[0] for f in fetched_rows}] == fetched_rows


def _kill_first_worker(root: Path, warc: Path, during: list[tuple[int, int]]) -> int:
    """SIGKILL the process reading ``warc`` in the middle of it: once its progress note
    says an article was kept, the process is stopped (SIGSTOP) until the coordinator's
    progress line has shown that note, then killed. No race with the file's length."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        notes = list((root / shards.WORK).glob(f"{warc.name}-*/{shards.PROGRESS}")) \
            if (root / shards.WORK).is_dir() else []
        if notes and _kept(notes[0]):
            pid = int(notes[0].parent.name.split(".")[-2])
            os.kill(pid, signal.SIGSTOP)
            while time.monotonic() < deadline and not any(r > 0 and k > 0 for r, k in during):
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.005)
    return 0


def _kept(note: Path) -> int:
    try:
        return int(json.loads(note.read_text(encoding="utf-8")).get("kept", 0))
    except (OSError, ValueError):  # being written or removed meanwhile
        return 0


# ---------------------------------------------------------------- shards seen in place


def _coverage(warehouse: Path) -> tuple[list[tuple], int, int]:
    """(articles per outlet id, articles per day summed, rows of all_articles)."""
    return (rows(warehouse, "SELECT outlet_id, articles FROM coverage_by_outlet ORDER BY outlet_id NULLS LAST"),
            rows(warehouse, "SELECT coalesce(sum(articles), 0) FROM coverage_daily")[0][0],
            rows(warehouse, "SELECT count(*) FROM all_articles")[0][0])


def test_views_count_finished_shards_before_the_load_and_once_after(world, tmp_path):
    from datetime import datetime, timezone

    from pipeline.backfill.runner import BackfillPlan, load_finished, tasks_for, watch_shards
    from pipeline.backfill.task import run_task
    from pipeline.config import load_settings
    from pipeline.store import open_writer

    room, fetched, warc, hosts = world
    copy = tmp_path / "news-0002.warc.gz"  # every page captured twice: counted once all the same
    copy.write_bytes(warc.read_bytes())
    site = make_site(room, tmp_path / "site")
    settings, root, now = load_settings(site.config), tmp_path / "shards", datetime.now(timezone.utc)
    watch_shards(settings, root, now)
    assert _coverage(site.warehouse) == ([], 0, 0)  # a registered folder with no shard yet
    plan = BackfillPlan((warc, copy), root, PageFilter(frozenset({"127.0.0.1"})))
    for task in tasks_for(settings, plan):  # the workers' part only: nothing loaded
        assert run_task(task).done
    expected = rows(fetched.warehouse, "SELECT outlet_id, count(*) FROM articles WHERE status = 'extracted' "
                                       "GROUP BY 1 ORDER BY 1")
    total = sum(n for _, n in expected)
    assert rows(site.warehouse, "SELECT count(*) FROM articles WHERE status = 'extracted'") == [(0,)]
    assert _coverage(site.warehouse) == (expected, total, total)
    open_writer(site.warehouse).close()  # a later job reopens the warehouse: still seen
    assert _coverage(site.warehouse) == (expected, total, total)
    load_finished(settings, root, now)  # (it loads the seeds too: reference articles)
    loaded = rows(site.warehouse, "SELECT outlet_id, count(*) FROM articles WHERE status = 'extracted' "
                                  "GROUP BY 1 ORDER BY 1")
    assert loaded == expected and rows(site.warehouse, "SELECT count(*) FROM backfill_pending") == [(0,)]
    after = _coverage(site.warehouse)  # each article once: as counted from the table alone
    assert after == _table_coverage(site.warehouse)
    for path in sorted(root.rglob("*"), reverse=True):  # shards deleted: no view fails
        path.unlink() if path.is_file() else path.rmdir()
    open_writer(site.warehouse).close()
    assert _coverage(site.warehouse) == after


def _table_coverage(warehouse: Path) -> tuple[list[tuple], int, int]:
    counted = "FROM articles WHERE status IN ('extracted', 'reference')"
    return (rows(warehouse, f"SELECT outlet_id, count(*) {counted} GROUP BY 1 ORDER BY 1 NULLS LAST"),
            rows(warehouse, f"SELECT count(*) {counted}")[0][0], rows(warehouse, "SELECT count(*) FROM articles")[0][0])


# ---------------------------------------------------------------- a page too slow to extract


def _slow_page() -> bytes:
    """Tens of thousands of short linked paragraphs: seconds of lxml and trafilatura
    work (super-linear in their number), far past the 1.5 s limit the test sets."""
    paragraphs = "".join(f"<p>item {i} of a very long list <a href='/i/{i}'>more</a></p>" for i in range(20000))
    return f"<html><head><title>Slow</title></head><body><article>{paragraphs}</article></body></html>".encode()


def test_a_page_past_the_time_limit_is_named_and_the_file_carries_on(world, tmp_path):
    from pipeline.backfill.runner import BackfillPlan, Totals, _summary, tasks_for
    from pipeline.backfill.task import run_task
    from pipeline.config import load_settings
    from pipeline.store import parquet

    room, fetched, warc, hosts = world
    pages = [(p.url, p.body) for p in iter_pages(warc, PageFilter(), ReadStats())][:4]
    slow_url = pages[0][0].rsplit("/", 1)[0] + "/slow.html"
    archive = write_warc(tmp_path / "slow.warc.gz", archive_of(pages[:2] + [(slow_url, _slow_page())] + pages[2:],
                                                               noise=False))
    offset = next(p.offset for p in iter_pages(archive, PageFilter(), ReadStats()) if p.url == slow_url)
    site = make_site(room, tmp_path / "site")
    set_setting(site.config, "http", "page_timeout", 1.5)  # run's extraction limit, reused
    settings, root = load_settings(site.config), tmp_path / "shards"
    (task,) = tasks_for(settings, BackfillPlan((archive,), root))
    result = run_task(task)  # in this process: the worker's part, with its forked extractor
    assert result.done and dict(result.extract_failed) == {"timeout": 1}
    assert result.timed_out == (f"{archive}@{offset}",)  # named by file and offset
    assert result.kept == 4 and not result.errors  # the pages after it too
    cols, shard_rows = parquet.read_rows(shards.shard_glob(root))
    assert sorted(r[cols.index("url")] for r in shard_rows) == sorted(url for url, _ in pages)
    totals = Totals()
    totals.add(result)
    assert _summary(BackfillPlan((archive,), root), totals, 1.0, {})["pages_timed_out"] == [f"{archive}@{offset}"]


# ---------------------------------------------------------------- a failed fetch, archived


def test_an_archived_page_replaces_the_failed_article_a_fetch_left(world, tmp_path):
    from newsroom import Route

    room, fetched, warc, hosts = world
    url, article_id, source = rows(fetched.warehouse, "SELECT a.url, a.article_id, s.source_id FROM articles a "
                                                      "JOIN sightings s USING (article_id) WHERE a.status = 'extracted' "
                                                      "AND s.link = a.url ORDER BY a.url LIMIT 1")[0]
    path = urlsplit(url).path
    served = room.route(path)
    room.set_route(path, Route(b"<h1>500 Internal Server Error</h1>", status=500))
    try:
        site = make_site(room, tmp_path / "site")
        _only_source(site.config, source)  # the one feed that lists the page: a shorter run
        assert site.run("run", "--all").returncode == 0
    finally:
        room.set_route(path, served)
    assert rows(site.warehouse, "SELECT status FROM articles WHERE article_id = ?", [article_id]) == [("failed",)]
    page = next(p for p in iter_pages(warc, PageFilter(), ReadStats()) if p.url == url)
    archive = write_warc(tmp_path / "one.warc.gz", archive_of([(url, page.body)]))  # with a request before it
    offset = next(p.offset for p in iter_pages(archive, PageFilter(), ReadStats()) if p.url == url)
    result = site.run("backfill", str(archive))
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)["loaded"]
    assert (loaded["failed_replaced"], loaded["new_articles"]) == (1, 0)
    mine = f"SELECT {', '.join(ARTICLE_COLUMNS)} FROM articles WHERE article_id = ?"
    assert rows(site.warehouse, mine, [article_id]) == rows(fetched.warehouse, mine, [article_id])
    assert rows(site.warehouse, "SELECT warc_file, warc_offset, fail_reason FROM articles WHERE article_id = ?",
                [article_id]) == [(str(archive), offset, None)]  # where its text came from
    scores = f"SELECT {', '.join(SCORE_COLUMNS)} FROM story_scores WHERE article_id = ?"
    assert rows(site.warehouse, scores, [article_id]) == rows(fetched.warehouse, scores, [article_id])


def _only_source(config: Path, source_id: str) -> None:
    path = config / "sources.toml"
    head, *tables = path.read_text(encoding="utf-8").split("[[source]]\n")
    kept = [t for t in tables if t.startswith(f'id = "{source_id}"\n')]
    assert len(kept) == 1
    path.write_text(head + "[[source]]\n" + kept[0], encoding="utf-8")
