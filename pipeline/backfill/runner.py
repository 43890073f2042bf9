"""The backfill job: one task per WARC file on a local process pool or a Dask cluster,
then the coordinator (the one writer) loads what finished and runs the post-steps."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Generator, Iterator, Sequence

from pipeline.acquire.warc import PageFilter
from pipeline.backfill import shards
from pipeline.backfill.task import COUNTED, FileResult, FileTask, StoryFilter, run_task
from pipeline.config import Settings, reference_dir
from pipeline.config.references import read_reference_set
from pipeline.errors import ConfigError, LockedError
from pipeline.content.outlets import OutletResolver
from pipeline.jobs import analyse, load_seeds
from pipeline.store import open_writer, writer_lock

LOAD_CHUNK = 500  # files per loading transaction
MAX_KILLS = 3  # a file whose worker process dies this often is skipped (pool); Dask: its retries
TICK = 0.5  # seconds between progress lines while files are being read


@dataclass(frozen=True)
class BackfillPlan:
    paths: tuple[Path, ...]
    shard_root: Path
    wanted: PageFilter = PageFilter()
    story: str | None = None
    workers: int = 0  # 0: one per core
    scheduler: str | None = None  # a Dask scheduler address: the cluster does the tasks


@dataclass
class Totals:
    """Running counts, for the progress line and the summary."""

    files: int = 0
    files_done: int = 0
    done_before: int = 0
    failed: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # task.COUNTED, of the files read now
    extract_failed: Counter[str] = field(default_factory=Counter)
    timed_out: list[str] = field(default_factory=list)  # pages past the per-page time limit
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    reading: tuple[int, int] = (0, 0)  # records read and articles kept so far in files not finished

    def add(self, r: FileResult) -> None:
        self.files_done += 1
        self.done_before += int(r.skipped)
        self.failed += int(not r.done)
        if not r.skipped:
            self.counts.update({name: getattr(r, name) for name in COUNTED})
        self.extract_failed.update(dict(r.extract_failed))
        self.timed_out += list(r.timed_out)
        self.errors += list(r.errors)

    def records(self) -> int:
        return self.counts["records"] + self.reading[0]

    def kept(self) -> int:
        return self.counts["kept"] + self.reading[1]

    def rate(self) -> float:
        return self.records() / max(time.monotonic() - self.started, 1e-6)


Progress = Callable[[Totals], None]


def shard_root(settings: Settings) -> Path:
    return (settings.config_dir / settings.get("backfill", "shards")).resolve()


def tasks_for(settings: Settings, plan: BackfillPlan) -> list[FileTask]:
    story: StoryFilter | None = None
    if plan.story is not None:
        try:
            settings.story(plan.story)
        except KeyError:
            raise ConfigError([f"--story {plan.story}: no such story (configured: "
                               f"{', '.join(s.id for s in settings.stories) or 'none'})"]) from None
        found = settings.story(plan.story)
        seeds = read_reference_set(reference_dir(settings, found))
        story = StoryFilter(found, tuple((seed.file, seed.text) for seed in seeds))
    return [FileTask(str(p), str(plan.shard_root), plan.wanted, settings.outlets, story,
                     int(settings.get("http", "max_body_bytes")), float(settings.get("http", "page_timeout")))
            for p in plan.paths]


def backfill(settings: Settings, plan: BackfillPlan, now: datetime,
             progress: Progress | None = None) -> dict[str, Any]:
    """Read every file (files done before are skipped), load, score; the JSON summary."""
    tasks = tasks_for(settings, plan)
    noted = watch_shards(settings, plan.shard_root, now)  # (not in the reading time: it opens the warehouse)
    totals = Totals(files=len(tasks), errors=noted)
    for result in _results(tasks, plan):
        if result is not None:
            totals.add(result)
        if progress:
            totals.reading = shards.in_progress(plan.shard_root)
            progress(totals)
    seconds = time.monotonic() - totals.started
    loaded = load_finished(settings, plan.shard_root, now)
    return {**_summary(plan, totals, seconds, loaded),
            "load_seconds": round(time.monotonic() - totals.started - seconds, 3)}


def _results(tasks: list[FileTask], plan: BackfillPlan) -> Iterator[FileResult | None]:
    """Each file's result as it comes; None now and then while files are being read
    (for the progress line)."""
    if plan.scheduler:
        yield from _on_dask(tasks, plan.scheduler)
        return
    workers = min(plan.workers or os.cpu_count() or 1, max(len(tasks), 1))
    kills: Counter[str] = Counter()
    while tasks:
        started = shards.work_folders(plan.shard_root)
        # Forked: the coordinator holds no warehouse handle now (it opens it only to load).
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
            futures = {pool.submit(run_task, t): t for t in tasks}
            processes = dict(getattr(pool, "_processes", None) or {})  # to tell later which one died
            cut = yield from _pool_outcomes(futures)
        tasks = yield from _after_break(plan.shard_root, cut, _killed_by(plan.shard_root, started, processes), kills)


def _pool_outcomes(futures: dict[Future[FileResult], FileTask]) -> Generator[FileResult | None, None, list[FileTask]]:
    """Yield the results; return the tasks cut short because a worker process died (a
    dead worker breaks the whole pool: every file not finished fails with it)."""
    cut, pending = [], set(futures)
    while pending:
        done, pending = wait(pending, timeout=TICK, return_when=FIRST_COMPLETED)
        for future in done:
            if isinstance(future.exception(), BrokenProcessPool):
                cut.append(futures[future])
            else:
                yield _outcome(future, futures[future])
        if not done:
            yield None
    return cut


def _killed_by(root: Path, started: set[str], processes: dict[int, Any]) -> set[str] | None:
    """Keys of the files whose worker process died of something other than the pool's
    own clean-up (a SIGTERM to the survivors once it is broken): the OOM killer, a kill,
    a crash. None when no file can be blamed (a worker died between files)."""
    dead = {pid for pid, proc in processes.items() if proc.exitcode not in (None, 0, -signal.SIGTERM)}
    keys = {key for key, pid in map(shards.work_owner, shards.work_folders(root) - started) if pid in dead}
    return keys or None


def _after_break(root: Path, cut: list[FileTask], culprits: set[str] | None,
                 kills: Counter[str]) -> Generator[FileResult, None, list[FileTask]]:
    """The files to read again in a new pool; a file whose worker died MAX_KILLS times is
    reported by name and skipped (the next invocation tries it again)."""
    again = []
    for task in cut:
        key = _key(task)
        shards.abandon_work_of(root, key)
        if culprits is None or key in culprits:
            kills[task.warc] += 1
        if kills[task.warc] >= MAX_KILLS:
            yield FileResult(task.warc, key, False, errors=(
                f"{task.warc}: not finished: its worker process died {kills[task.warc]} times; skipped",))
        else:
            again.append(task)
    return again


def _key(task: FileTask) -> str:
    try:
        return shards.warc_key(Path(task.warc))
    except OSError:
        return ""


def _on_dask(tasks: list[FileTask], address: str) -> Iterator[FileResult]:
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(["--scheduler needs Dask: pip install 'newswatch[dask]'"]) from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError([f"--scheduler {address}: cannot reach the Dask scheduler: {exc}"]) from None
    try:
        keys = [f"newswatch-backfill-{i}-{Path(t.warc).name}" for i, t in enumerate(tasks)]
        # A task whose worker died is run again elsewhere; its shards replace the cut-short ones.
        futures = client.map(run_task, tasks, key=keys, retries=MAX_KILLS)
        by_key, pending = {f.key: t for f, t in zip(futures, tasks)}, list(futures)
        while pending:
            finished = [f.done() for f in pending]  # asked once: a future may finish meanwhile
            done = [f for f, ok in zip(pending, finished) if ok]
            pending = [f for f, ok in zip(pending, finished) if not ok]
            for future in done:
                yield _outcome(future, by_key[future.key])
            if not done:
                yield None
                time.sleep(TICK)
    finally:
        client.close()


def _outcome(future: Any, task: FileTask) -> FileResult:
    """The task's result; a worker process that died (the OOM killer, a kill) or a task
    that failed on every retry is a failed file, named, and the run carries on: its file
    has no manifest, so the next invocation reads it again."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, KilledWorker, a bug in one file
        return FileResult(task.warc, "", False, errors=(f"{task.warc}: not finished: {type(exc).__name__}: {exc}",))


def watch_shards(settings: Settings, root: Path, now: datetime) -> list[str]:
    """Before any task: let the warehouse's views read this shard folder, so the files
    that finish are counted even if the coordinator never gets to load them. Done before
    the pool forks, so no worker inherits the handle; a busy warehouse only delays this."""
    try:
        with writer_lock(settings.warehouse_path):
            store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
            try:
                store.register_backfill_shards(root, shards.layout(root), True, now)
            finally:
                store.close()
    except LockedError as exc:
        return [f"{settings.warehouse_path}: the views see these shards after the load only: {exc}"]
    return []


def load_finished(settings: Settings, root: Path, now: datetime) -> dict[str, Any]:
    """The coordinator's step: load every finished file not loaded yet, then dedup,
    cluster and score what is new (the same post-steps as ``newswatch run``)."""
    with writer_lock(settings.warehouse_path):
        store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
        try:
            store.sync_outlets(settings.outlets, now)
            pending = sorted(shards.done_keys(root) - store.loaded_warc_keys())
            run_id = store.start_run(now)
            # The reference sets anchor clusters as in `run`: a backfill may be the first job.
            seeds = load_seeds(store, settings, OutletResolver(settings.outlets), now, run_id)
            counts = _load(store, root, pending, run_id, now)
            store.register_backfill_shards(root, shards.layout(root), False, now)  # loaded: the view stops reading
            analysis = analyse(store, settings, now)
            store.finish_run(run_id, datetime.now(now.tzinfo), "done", {
                "sources_ok": 0, "sources_failed": 0, "new_sightings": counts["new_sightings"],
                "new_articles": counts["new_articles"], "extraction_failures": 0, "seeds_loaded": seeds})
        finally:
            store.close()
    return {**counts, "run_id": run_id, "analysis": analysis}


def _load(store: Any, root: Path, pending: Sequence[str], run_id: int, now: datetime) -> dict[str, int]:
    counts = Counter(files=0, new_articles=0, new_sightings=0)
    has_shards = any((root / shards.PAGES).rglob("*.parquet")) if (root / shards.PAGES).is_dir() else False
    for start in range(0, len(pending), LOAD_CHUNK):
        notes = [n for n in (shards.manifest(root, k) for k in pending[start:start + LOAD_CHUNK]) if n]
        loaded = store.load_backfill(shards.shard_glob(root) if has_shards else None, notes, run_id, now)
        counts.update(loaded)
        counts["files"] += len(notes)
    return dict(counts)


def _summary(plan: BackfillPlan, t: Totals, seconds: float, loaded: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "dask" if plan.scheduler else "pool", "scheduler": plan.scheduler,
        "workers": plan.workers or os.cpu_count(), "shards": str(plan.shard_root),
        "files": t.files, "files_read": t.files_done - t.done_before - t.failed,
        "files_done_before": t.done_before, "files_failed": t.failed,
        "records": t.counts["records"], "html_pages": t.counts["pages"], "not_html": t.counts["not_html"],
        "not_2xx": t.counts["not_ok"],
        "unreadable_stretches": t.counts["unreadable"], "articles_kept": t.counts["kept"],
        "off_story": t.counts["off_story"],
        "extract_failed": dict(sorted(t.extract_failed.items())), "pages_timed_out": t.timed_out[:50],
        "errors": t.errors[:20],
        "seconds": round(seconds, 3), "records_per_second": round(t.counts["records"] / max(seconds, 1e-6), 1),
        "loaded": loaded,
    }
