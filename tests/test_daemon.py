"""``newswatch daemon`` as a real subprocess against the newsroom: an ingest at start, the
warehouse free between jobs, and SIGTERM honoured after the current source."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import (
    Site,
    make_site,
    rewrite_sources,
    rows,
    set_setting,
    start_newswatch,
)
from newsroom import Newsroom

from pipeline.store import lock_is_held


class Lines:
    """Collects a process's stdout lines in a thread; ``wait_for`` a line to appear."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<eof>")
            self._changed.notify_all()

    def wait_for(self, test: Callable[[str], bool], timeout: float = 60) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(test(x) for x in self.lines) or "<eof>" in self.lines,
                                          timeout) and any(test(x) for x in self.lines)

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "\n".join(self.lines)


def start_daemon(site: Site) -> tuple[subprocess.Popen[str], Lines, Path]:
    """The daemon with stdout read line by line and its log (stderr) going to a file, so
    neither pipe can fill up and stall it."""
    log = site.cwd / "daemon.log"
    with log.open("w") as sink:
        proc = start_newswatch(["daemon"], config=site.config, cwd=site.cwd, stderr=sink)
    return proc, Lines(proc), log


def stop(proc: subprocess.Popen[str], log: Path) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return log.read_text()


def test_daemon_ingests_at_start_leaves_the_warehouse_free_and_stops_on_sigterm(
        room: Newsroom, tmp_path: Path) -> None:
    site = make_site(room, tmp_path)
    chosen = ["signal-noise-rdf", "fintech-wire-json"]
    rewrite_sources(site.config, order=chosen)
    set_setting(site.config, "schedule", "interval_minutes", 1)
    proc, out, log = start_daemon(site)
    try:
        assert out.wait_for(lambda line: line.startswith("run 1:")), (out.lines, log.read_text()[-3000:])
        # Between jobs the daemon holds neither the lock nor the DuckDB file.
        assert not lock_is_held(site.warehouse)
        query = site.run("query", "select count(*) as n from articles where status = 'extracted'",
                         "--format", "csv")
        assert query.returncode == 0, query.stderr
    finally:
        err = stop(proc, log)
    expected = sum(len(room.feed(f).slugs) for f in chosen)
    assert query.stdout.splitlines() == ["n", str(expected)]
    assert proc.returncode == 0, err
    assert "newswatch daemon: stopped" in out.text()
    assert rows(site.warehouse, "SELECT run_id, status FROM runs") == [(1, "done")]
    assert not lock_is_held(site.warehouse)


def test_sigterm_during_a_run_finishes_the_current_source_then_stops(room: Newsroom, tmp_path: Path) -> None:
    stall = room.add_bad_sources(["stall"])["stall"]
    # One source after another: the source in progress finishes, the next never starts.
    site = make_site(room, tmp_path, http={"feed_timeout": 2.0, "concurrency": 1})
    rewrite_sources(site.config, order=["signal-noise-rdf", stall, "fintech-wire-json"])
    proc, out, log = start_daemon(site)
    try:
        deadline = time.monotonic() + 60
        while not room.requests_for(room.bad_sources[0].path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert room.requests_for(room.bad_sources[0].path), (out.lines, log.read_text()[-3000:])
    finally:
        err = stop(proc, log)
    assert proc.returncode == 0, err
    text = out.text()
    assert "interrupted" in text and "newswatch daemon: stopped" in text
    assert room.requests_for(room.feed("fintech-wire-json").path) == []  # never started
    assert rows(site.warehouse, "SELECT status FROM runs") == [("interrupted",)]
    # The source in progress was finished and committed: its timeout is on record.
    assert rows(site.warehouse, "SELECT last_error_kind FROM source_health WHERE source_id = ?",
                [stall]) == [("timeout",)]
    assert not lock_is_held(site.warehouse)
