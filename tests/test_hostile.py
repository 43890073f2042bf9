"""The hostile-web suite (issue 10): attacks served on loopback, each source run through the
real ``newswatch run`` beside good sources, whose articles must all arrive.

One module run carries every hostile source of ``hostile.install`` plus loopback spellings,
DNS rebinding and a resolver that raises, with two good feeds polled *after* them; a
second run follows. Separate runs cover robots.txt outages, kill -9, a full disk and a
deleted lock file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import (
    GROWING_TABLES,
    Site,
    cli_env,
    make_site,
    rewrite_sources,
    row_counts,
    rows,
    set_setting,
    start_newswatch,
    table_contents,
)
from hostile import (
    EXPLODING_HOST,
    FEED_TIMEOUT,
    REBINDING_HOST,
    RESOLVER_STUB,
    Hostile,
    Trap,
    install,
    item,
    rss,
)
from newsroom import NewsArticle, Newsroom, Route

from pipeline.cli import main

GOOD = ("harbor-tribune-atom",)  # polled after every hostile source
HELD = "fintech-wire-json"  # _one_article_feed lists the first article of this feed
ONE_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# ::1 written as people write it to slip past a filter. (The IPv4 spellings of loopback
# are refused in test_fetch, with loopback switched off and the newsroom as the witness.)
SPELLINGS = ("[::1]", "[0:0:0:0:0:0:0:1]", "[0000:0000:0000:0000:0000:0000:0000:0001]", "[::0:1]", "[0::1]")


@dataclass
class HostileRun:
    site: Site
    room: Newsroom
    trap: Trap
    hostile: list[Hostile]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    facts_after_first: dict[str, list[tuple]]
    counts_after_first: dict[str, int]
    dns_log: Path


def run_with_stub(site: Site, dns_log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line with the resolver stub of ``hostile.RESOLVER_STUB``."""
    return subprocess.run([sys.executable, "-c", RESOLVER_STUB, str(dns_log), *args], cwd=site.cwd,
                          env=cli_env(site.config), capture_output=True, text=True, timeout=120)


def _extra_sources(room: Newsroom, trap: Trap, hostile: list[Hostile]) -> list[dict[str, str]]:
    extra = [{"id": h.id, "kind": "sitemap" if "sitemap" in h.id else "feed", "url": room.url(h.path)}
             for h in hostile]
    if trap.refusable:
        extra += [{"id": f"spelling-{i}", "kind": "feed", "url": f"http://{host}:{trap.port}/feed.xml"}
                  for i, host in enumerate(SPELLINGS)]
        extra += [{"id": f"rebinding-{i}", "kind": "feed", "url": f"http://{REBINDING_HOST}:{trap.port}/{i}.xml"}
                  for i in (1, 2)]
    extra.append({"id": "exploding", "kind": "feed", "url": f"http://{EXPLODING_HOST}/feed.xml"})
    return extra


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    trap, room = Trap(), Newsroom().start()
    try:
        hostile = install(room, trap.base)
        tmp = tmp_path_factory.mktemp("hostile")
        site = make_site(room, tmp, http={"feed_timeout": FEED_TIMEOUT, "allow_networks": ["127.0.0.1/32"]})
        rewrite_sources(site.config, order=GOOD, extra=_extra_sources(room, trap, hostile))
        dns_log = tmp / "dns.log"
        first = run_with_stub(site, dns_log, "run", "--all")
        facts = table_contents(site.warehouse, ["articles", "sightings", "article_urls"])
        counts = {t: n for t, n in row_counts(site.warehouse).items() if t not in GROWING_TABLES}
        second = run_with_stub(site, dns_log, "run")
        yield HostileRun(site, room, trap, hostile, first, second, facts, counts, dns_log)
    finally:
        room.stop()
        trap.close()


def _good_articles(room: Newsroom) -> list[NewsArticle]:
    slugs = {s for f in room.feeds if f.id in GOOD for s in f.slugs}
    return [room.article(s) for s in sorted(slugs)]


def _source(run: HostileRun, source_id: str) -> dict[str, object]:
    cols = ("last_error_kind", "last_error", "consecutive_failures", "next_check_at", "last_success_at")
    found = rows(run.site.warehouse, f"SELECT {', '.join(cols)} FROM sources WHERE source_id = ?", [source_id])
    assert found, source_id
    return dict(zip(cols, found[0]))


def test_every_good_article_arrives_after_the_hostile_sources(hostile_run: HostileRun) -> None:
    assert hostile_run.first.returncode == 0, hostile_run.first.stderr[-3000:]
    for article in _good_articles(hostile_run.room):
        found = rows(hostile_run.site.warehouse, "SELECT status FROM articles WHERE url LIKE ?",
                     ["%" + article.path + "%"])
        assert found == [("extracted",)], article.path


def test_each_hostile_source_is_recorded_and_backs_off(hostile_run: HostileRun) -> None:
    for h in hostile_run.hostile:
        state = _source(hostile_run, h.id)
        if h.fails is None:
            continue
        if h.fails:
            assert state["last_error_kind"] and state["consecutive_failures"] == 1, (h.id, state)
            assert state["next_check_at"] is not None, h.id
        else:
            assert state["last_success_at"] is not None and state["last_error_kind"] is None, (h.id, state)


def test_the_classes_fail_for_their_own_reason_not_as_internal_errors(hostile_run: HostileRun) -> None:
    expect = {"redirect-data": "redirects", "redirect-javascript": "redirects", "redirect-mailto": "redirects",
              "redirect-control": "redirects", "deep-json": "too_large", "long-number": "too_large", "slow-parse": "too_large",
              "gzip-bomb": "too_large", "redirect-loop": "redirects"}
    for source_id, kind in expect.items():
        assert _source(hostile_run, source_id)["last_error_kind"] == kind, source_id
    # Entity expansion: whether the parser refuses it or leaves the entities unexpanded
    # depends on how fast it gets there; either way nothing expanded is stored.
    assert _source(hostile_run, "laughs")["last_error_kind"] in (None, "too_large")
    stored = rows(hostile_run.site.warehouse, "SELECT max(length(title)) FROM sightings WHERE source_id = 'laughs'")
    assert (stored[0][0] or 0) < 10_000
    kinds = rows(hostile_run.site.warehouse, "SELECT source_id FROM sources WHERE last_error_kind = 'internal'")
    assert kinds == [("exploding",)]


def test_an_unforeseen_exception_is_recorded_on_its_source_with_type_and_message(hostile_run: HostileRun) -> None:
    state = _source(hostile_run, "exploding")
    assert state["last_error"] == "RuntimeError: stub resolver exploded"
    assert state["consecutive_failures"] == 1 and state["next_check_at"] is not None
    assert "Traceback" in hostile_run.first.stderr and "RuntimeError" in hostile_run.first.stderr
    assert "internal" in hostile_run.first.stdout  # the summary counts it by kind


def test_entries_past_the_budget_are_not_built(hostile_run: HostileRun) -> None:
    logged = dict(rows(hostile_run.site.warehouse, "SELECT source_id, entries FROM fetch_log "
                       "WHERE source_id IN ('empty-items', 'titled-items') AND ok"))
    assert logged == {"empty-items": 0, "titled-items": 2000}
    for source_id, unread in (("empty-items", 2_198_000), ("titled-items", 98_000)):
        assert f"warning {source_id}: {unread} entries past the first 2000 left unread" in hostile_run.first.stdout


def test_a_parse_past_its_time_budget_is_stopped(hostile_run: HostileRun) -> None:
    assert f"time budget of {FEED_TIMEOUT:g} s" in str(_source(hostile_run, "slow-parse")["last_error"])
    # 50,000 URLs (the protocol's cap) are read at most; all are old here, so none is kept
    sitemap = _source(hostile_run, "sitemap-huge")
    assert sitemap["last_success_at"] is not None or f"time budget of {FEED_TIMEOUT:g} s" in str(sitemap["last_error"])


def test_pages_redirected_to_other_schemes_fail_alone(hostile_run: HostileRun) -> None:
    reasons = rows(hostile_run.site.warehouse, "SELECT url, fail_reason FROM articles WHERE url LIKE '%/h/page-to-%'")
    assert len(reasons) == 3 and all(r.startswith("redirects: bad redirect") for _, r in reasons), reasons


def test_control_characters_never_reach_the_warehouse(hostile_run: HostileRun) -> None:
    warehouse = hostile_run.site.warehouse
    texts = rows(warehouse, "SELECT title, author, description, url, canonical_url, site_name, fail_reason "
                 "FROM articles")
    texts += rows(warehouse, "SELECT link, title, publisher_name, publisher_url FROM sightings")
    texts += rows(warehouse, "SELECT url, last_error FROM sources")
    assert not [v for r in texts for v in r if isinstance(v, str) and ONE_LINE_CONTROLS.search(v)]
    bodies = [r[0] for r in rows(warehouse, "SELECT body FROM articles WHERE body IS NOT NULL")]
    assert bodies and not [b for b in bodies if BODY_CONTROLS.search(b)]
    links = {r[0] for r in rows(warehouse, "SELECT link FROM sightings WHERE source_id = 'controls'")}
    assert {u.rsplit("/", 1)[1] for u in links} >= {"ctl%00page", "ctl%01page", "ctl%7Fpage"}
    title = rows(warehouse, "SELECT title FROM sightings WHERE source_id = 'controls' AND link LIKE '%escapes%'")
    assert title == [("Escapes red title",)]  # whole escape sequences go, and the lone surrogate
    page = rows(warehouse, "SELECT status, title, author FROM articles WHERE url LIKE '%/h/escapes.html'")
    assert page and page[0][0] == "extracted", page


def test_loopback_spellings_and_dns_rebinding_never_reach_the_server(hostile_run: HostileRun) -> None:
    if not hostile_run.trap.refusable:
        pytest.skip("no IPv6 loopback here: ::1 is the only refusable address tests may use")
    assert hostile_run.trap.requests == []
    for source_id in [f"spelling-{i}" for i in range(len(SPELLINGS))] + ["rebinding-1", "rebinding-2"]:
        assert _source(hostile_run, source_id)["last_error_kind"] == "blocked", source_id
    answers = hostile_run.dns_log.read_text().split()
    assert answers[:2] == ["::1", "0:0:0:0:0:0:0:1"]  # the second lookup answered differently


def test_absurd_feed_dates_do_not_stop_the_source(hostile_run: HostileRun) -> None:
    assert _source(hostile_run, "absurd-dates")["last_success_at"] is not None
    assert len(rows(hostile_run.site.warehouse, "SELECT 1 FROM sightings WHERE source_id = 'absurd-dates'")) == 3


def test_nothing_is_duplicated(hostile_run: HostileRun) -> None:
    warehouse = hostile_run.site.warehouse
    assert rows(warehouse, "SELECT canonical_url FROM articles GROUP BY 1 HAVING count(*) > 1") == []
    good_paths = [a.path for a in _good_articles(hostile_run.room)]
    extracted = rows(warehouse, "SELECT url FROM articles WHERE status = 'extracted'")
    assert sorted(u for (u,) in extracted if any(u.endswith(p) for p in good_paths)) == sorted(
        {u for (u,) in extracted if any(u.endswith(p) for p in good_paths)})


def test_a_second_run_behaves(hostile_run: HostileRun) -> None:
    assert hostile_run.second.returncode == 0, hostile_run.second.stderr[-3000:]
    after = table_contents(hostile_run.site.warehouse, ["articles", "sightings", "article_urls"])
    assert {t: len(v) for t, v in after.items()} == {t: len(v) for t, v in hostile_run.facts_after_first.items()}
    assert rows(hostile_run.site.warehouse, "SELECT run_id, status FROM runs ORDER BY 1") == [(1, "done"), (2, "done")]
    counts = {t: n for t, n in row_counts(hostile_run.site.warehouse).items() if t not in GROWING_TABLES}
    assert counts == hostile_run.counts_after_first


def test_query_never_prints_control_characters(hostile_run: HostileRun, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "select chr(27) || '[2J' || chr(7) as \"t" + "\x1b" + "\", chr(155) || 'x' || chr(0) as c, 'a' as d"
    for fmt in ("table", "csv", "json"):  # the command line in-process: three runs cost no start-up
        assert main(["--config", str(hostile_run.site.config), "query", sql, "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out), (fmt, out)
        assert "\\x1b" in out or "\\u001b" in out, out


# ---------------------------------------------------------------- runs of their own


def _one_article_feed(room: Newsroom) -> str:
    """Serve a feed listing one of ``room``'s articles (a page each costs an extraction);
    returns its URL."""
    article = room.article(room.feed(HELD).slugs[0])
    room.set_route("/h/one.xml", Route(rss(item(article.title, room.url(article.path))), "application/rss+xml"))
    return room.url("/h/one.xml")


def _paths(room: Newsroom, feed_id: str) -> list[str]:
    if feed_id == "one":
        return [room.article(room.feed(HELD).slugs[0]).path]
    return [room.article(s).path for s in room.feed(feed_id).slugs]


def _extracted(site: Site, room: Newsroom, feed_id: str) -> list[str]:
    """Paths of ``feed_id``'s articles (``one``: the page of ``_one_article_feed``) that are
    not yet extracted (an empty list: all are)."""
    missing = []
    for path in _paths(room, feed_id):
        if rows(site.warehouse, "SELECT 1 FROM articles WHERE url LIKE ? AND status = 'extracted'",
                ["%" + path + "%"]) == []:
            missing.append(path)
    return missing


def test_robots_outages_a_deleted_lock_file_and_kill_9(tmp_path: Path) -> None:
    """Run 1 meets robots.txt answering 503, timing out and 14 MB long, then stalls on a
    feed: meanwhile the lock file is deleted and a second job must still exit 3, and run 1
    is killed with SIGKILL. Run 3, with robots.txt back, reads every page held back."""
    allow = Route(b"User-agent: *\nAllow: /\n", "text/plain")
    with Newsroom() as good, Newsroom() as down, Newsroom() as stalled, Newsroom() as huge:
        down.set_route("/robots.txt", Route(b"busy", "text/plain", status=503))
        stalled.set_route("/robots.txt", replace(allow, delay=30.0))
        huge.set_route("/robots.txt", Route(allow.body + b"# padding\n" * 1_400_000, "text/plain"))
        good.set_route("/h/stall.xml", Route(rss(item("A stalling page", good.url("/h/stalling"))), "application/rss+xml"))
        good.set_route("/h/stalling", Route(b"", delay=30.0))  # holds run 1 for the page deadline
        # One source after another: every source before the stall is committed when run 1 is killed.
        site = make_site(good, tmp_path, http={"feed_timeout": FEED_TIMEOUT, "page_timeout": 6.0, "concurrency": 1})
        hosts = {"robots-503": down, "robots-timeout": stalled, "robots-huge": huge}
        rewrite_sources(site.config, order=GOOD, extra=[
            *({"id": i, "kind": "feed", "url": _one_article_feed(r)} for i, r in hosts.items()),
            {"id": "stall", "kind": "feed", "url": good.url("/h/stall.xml")}])
        _killed_while_locked_out(site, good)
        for room in (down, stalled):
            held = _paths(room, "one")
            assert not any(room.requests_for(p) for p in held)  # not one page asked while robots.txt was out
            reasons = rows(site.warehouse, "SELECT fail_reason, fail_transient FROM articles WHERE url LIKE ?",
                           [room.base_url + "%"])
            assert len(reasons) == len(held) and all(r.startswith("robots: robots.txt could not be read") and t
                                                     for r, t in reasons), reasons
        assert _extracted(site, huge, "one") == []  # only the first 500 KB of a robots.txt are read
        down.set_route("/robots.txt", allow)
        stalled.set_route("/robots.txt", allow)
        good.set_route("/h/stalling", Route(b"gone", status=404))
        third = site.run("run", "--all")
        assert third.returncode == 0, third.stderr
        assert rows(site.warehouse, "SELECT run_id, status FROM runs ORDER BY 1") == [(1, "killed"), (2, "done")]
        assert _extracted(site, down, "one") == [] and _extracted(site, stalled, "one") == []
        assert _extracted(site, good, GOOD[0]) == []
        assert rows(site.warehouse, "SELECT canonical_url FROM articles GROUP BY 1 HAVING count(*) > 1") == []


def _killed_while_locked_out(site: Site, room: Newsroom) -> None:
    first = start_newswatch(["run", "--all"], config=site.config, cwd=site.cwd)
    try:
        assert _wait_for(lambda: room.requests_for("/h/stalling"), 60), "the run never reached the stall"
        site.warehouse.with_name(site.warehouse.name + ".lock").unlink()
        second = site.run("run", "--all")
        assert second.returncode == 3, second.stderr
        assert "another" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.kill()  # SIGKILL while it waits for the stalling page
        first.communicate(timeout=30)


def _wait_for(condition: Callable[[], object], seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs, where the machine lets us mount one (root, mount permitted)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path, leave: int) -> Path:
    """Write a file until only about ``leave`` bytes are free on ``disk``."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free - leave
    with open(filler, "wb") as out:
        try:
            out.write(b"\0" * max(free, 0))
        except OSError:
            pass
    return filler


def test_a_full_disk_exits_4_naming_the_warehouse_and_loses_nothing_committed(
        tmp_path: Path, small_disk: Path) -> None:
    with Newsroom() as room:
        warehouse = small_disk / "newswatch.duckdb"
        site = replace(make_site(room, tmp_path), warehouse=warehouse)
        set_setting(site.config, "warehouse", "path", str(warehouse))
        rewrite_sources(site.config, order=GOOD)
        assert site.run("run", "--all").returncode == 0
        before = rows(warehouse, "SELECT article_id, status, content_hash FROM articles ORDER BY 1")
        rewrite_sources(site.config, order=GOOD, extra=[{"id": "one", "kind": "feed", "url": _one_article_feed(room)}])
        filler = _fill(small_disk, 16 * 1024)
        full = site.run("run", "--all")
        assert full.returncode == 4, (full.returncode, full.stderr)
        message = full.stderr.strip()
        assert "\n" not in message and str(warehouse) in message and "Traceback" not in message, message
        filler.unlink()
        again = site.run("run", "--all")
        assert again.returncode == 0, again.stderr
        statuses = [s for (s,) in rows(warehouse, "SELECT status FROM runs ORDER BY run_id")]
        assert statuses[0] == "done" and statuses[-1] == "done" and "running" not in statuses, statuses
        after = set(rows(warehouse, "SELECT article_id, status, content_hash FROM articles ORDER BY 1"))
        assert set(before) <= after
        assert [_extracted(site, room, f) for f in ("one", *GOOD)] == [[], []]
