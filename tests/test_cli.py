"""The command line, run as the real ``python -m pipeline.cli`` in a subprocess.

Most tests share one warehouse made by a run with loopback left off the allow-list: every
source fails at once as "blocked" (no request leaves), the seeds are loaded, and the
warehouse exists for ``sources`` and ``query``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import Site, make_site, rows, start_newswatch
from newsroom import Newsroom

from pipeline.store import writer_lock


@dataclass(frozen=True)
class Blocked:
    site: Site
    first_stdout: str
    sources: list[str]


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blocked]:
    with Newsroom() as room:
        site = make_site(room, tmp_path_factory.mktemp("cli"), allow_loopback=False)
        done = site.run("run")
        assert done.returncode == 0, done.stderr
        yield Blocked(site, done.stdout, [f.id for f in room.feeds if not f.optional])


# ---------------------------------------------------------------- run


def test_run_reports_failures_and_exits_0_or_5_with_strict(blocked: Blocked) -> None:
    n = len(blocked.sources)
    assert f"run 1: sources ok 0, failed {n} (blocked {n})" in blocked.first_stdout
    assert "new sightings 0, new articles 0, extraction failures 0, reference articles 5" in blocked.first_stdout
    assert blocked.first_stdout.count("FAILED") == n
    strict = blocked.site.run("run", "--all", "--strict")
    assert strict.returncode == 5
    quiet = blocked.site.run("run", "--all", "--quiet")
    assert quiet.returncode == 0 and "FAILED" not in quiet.stdout
    assert re.fullmatch(r"run 3: sources ok 0, failed \d+ \(blocked \d+\)\n  new sightings .*\n", quiet.stdout)
    assert blocked.site.room.requests == []


def test_progress_is_shown_on_a_terminal(blocked: Blocked) -> None:
    """stderr is a pseudo-terminal: one progress line per source, rewritten in place."""
    master, slave = pty.openpty()
    try:
        proc = start_newswatch(["run", "--all"], config=blocked.site.config, cwd=blocked.site.cwd,
                               stderr=slave)
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no output from the run"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
    n = len(blocked.sources)
    text = seen.decode()
    assert f"[{n}/{n}]" in text and "[0/" in text and "\r" in text
    assert all(s in text for s in blocked.sources)
    assert "FAILED (blocked)" in text
    assert not re.search(r"\[\d+/\d+\]", out) and "\r" not in out  # progress never on stdout
    assert f"failed {n} (blocked {n})" in out
    assert proc.returncode == 0


# ---------------------------------------------------------------- sources, query


def test_sources_lists_every_source_with_its_health(blocked: Blocked) -> None:
    done = blocked.site.run("sources", "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert sorted(r["source_id"] for r in table) == sorted(blocked.sources)
    assert {(r["state"], r["last_error_kind"]) for r in table} == {("failing (never succeeded)", "blocked")}


def test_query_prints_the_same_rows_as_table_csv_and_json(blocked: Blocked) -> None:
    sql = "select status, count(*) as n from articles group by 1 order by 1"
    expected = rows(blocked.site.warehouse, sql)
    assert expected  # the reference articles at least
    out = {fmt: blocked.site.run("query", sql, "--format", fmt) for fmt in ("table", "csv", "json")}
    assert all(done.returncode == 0 for done in out.values()), {f: d.stderr for f, d in out.items()}
    lines = out["table"].stdout.splitlines()
    assert lines[0].split() == ["status", "n"] and set(lines[1].replace(" ", "")) == {"-"}
    assert [tuple(line.split()) for line in lines[2:-1]] == [(s, str(n)) for s, n in expected]
    assert lines[-1] == f"({len(expected)} row{'s' if len(expected) != 1 else ''})"
    assert list(csv.reader(io.StringIO(out["csv"].stdout))) == [["status", "n"]] + [[s, str(n)] for s, n in expected]
    assert json.loads(out["json"].stdout) == [{"status": s, "n": n} for s, n in expected]


def test_query_is_read_only(blocked: Blocked) -> None:
    before = rows(blocked.site.warehouse, "select count(*) from outlets")
    done = blocked.site.run("query", "insert into outlets values ('x', 'X', null, false, now())")
    assert done.returncode == 4
    assert done.stderr.startswith("newswatch: query failed:") and "read-only" in done.stderr
    assert "Traceback" not in done.stderr
    assert rows(blocked.site.warehouse, "select count(*) from outlets") == before


def test_query_before_any_run_says_to_run_first(room: Newsroom, tmp_path: Path) -> None:
    site = make_site(room, tmp_path)
    done = site.run("query", "select 1")
    assert done.returncode == 4 and "no warehouse" in done.stderr and "newswatch run" in done.stderr


# ---------------------------------------------------------------- one writer at a time


def test_second_run_exits_3_at_once_while_a_job_holds_the_lock(site: Site) -> None:
    with writer_lock(site.warehouse):
        done = site.run("run", timeout=30)
    assert done.returncode == 3
    assert "another newswatch job is writing" in done.stderr and f"pid {os.getpid()}" in done.stderr
    assert site.room.requests == []  # it stopped before polling anything


def test_query_during_a_run_says_that_a_run_is_writing(blocked: Blocked) -> None:
    warehouse = blocked.site.warehouse
    with writer_lock(warehouse):
        con = duckdb.connect(str(warehouse))  # what a run holds: the file, read-write
        try:
            done = blocked.site.run("query", "select count(*) from articles")
        finally:
            con.close()
    assert done.returncode == 3
    assert "a newswatch run is writing" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- config, usage


def test_config_prints_settings_with_the_password_never_shown(blocked: Blocked) -> None:
    secret = "pw-7f3a9c-never-print-me"
    done = blocked.site.run("config", env={"NEWSWATCH_SMTP_PASSWORD": secret})
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    assert "smtp password: set (from $NEWSWATCH_SMTP_PASSWORD; never shown)" in done.stdout
    assert 'feed_timeout = 2.0' in done.stdout and f"# warehouse file: {blocked.site.warehouse}" in done.stdout
    unset = blocked.site.run("config")
    assert "smtp password: not set" in unset.stdout


def test_usage_errors_exit_2(blocked: Blocked) -> None:
    assert blocked.site.run().returncode == 2  # no command: help, exit 2
    bad = blocked.site.run("run", "--no-such-option")
    assert bad.returncode == 2 and "--no-such-option" in bad.stderr
