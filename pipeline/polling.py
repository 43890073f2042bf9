"""Many sources at once: ``refresh_source`` in a pool of threads, one writer.

Fetching waits on the network and extraction runs in other processes, so threads are
enough to keep both cores busy: each thread polls one source at a time (``HostSlots`` in
the fetcher keeps one request at a time per host, whichever thread makes it). DuckDB is
touched only through ``SerializedStore``: one connection, one call at a time. Polls that
produced nothing but their log row and poll state (an unchanged feed, a failed one) are
written together by ``PollWriter``, a few hundred per set-based transaction; anything
with articles is written at once, so the next source sees it.

``http.concurrency = 1`` polls the sources one after another in the calling thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Callable, Sequence

from pipeline.models import SourceOutcome
from pipeline.content.claims import Claims
from pipeline.refresh import MAX_PAGE_ATTEMPTS, RunContext, refresh_source
from pipeline.store import Batch, Store

FLUSH_EVERY = 250  # poll records per transaction: a kill loses at most these polls' state


class SerializedStore:
    """The store, one call at a time: DuckDB connections are not for concurrent use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def serialized(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return attr(*args, **kwargs)
        return serialized


class PollWriter:
    """Collects poll-only batches and writes them in set-based transactions."""

    def __init__(self, store: Any, every: int = FLUSH_EVERY) -> None:
        self._store, self._every = store, every
        self._lock = threading.Lock()
        self._log: list[tuple] = []
        self._states: list[dict[str, Any]] = []

    def __call__(self, batch: Batch) -> bool:
        if batch.outlets or batch.articles or batch.urls or batch.fingerprints or batch.sightings \
                or batch.rescore:
            return False  # other sources look these up: written now, by the caller
        with self._lock:
            self._log += batch.fetch_log
            if batch.source_state:
                self._states.append(batch.source_state)
            full = len(self._states) >= self._every
        if full:
            self.flush()
        return True

    def flush(self) -> None:
        with self._lock:
            log, states, self._log, self._states = self._log, self._states, [], []
        if log or states:
            self._store.save_polls(log, states)


Progress = Callable[..., None]


Poll = Callable[[RunContext, str, "dict[str, Any] | None"], SourceOutcome]


def poll_sources(ctx: RunContext, due: Sequence[str], concurrency: int, outcomes: list[SourceOutcome],
                 progress: Progress | None = None, stop: threading.Event | None = None,
                 poll: Poll = refresh_source) -> bool:
    """Poll ``due`` with ``poll`` (``refresh_source``, or the caller's safety net around
    it); outcomes are appended in ``due`` order; True when ``stop`` cut it short. Every
    part of ``ctx`` that touches the store (the robots gate too) must go through one
    ``SerializedStore``."""
    store = ctx.store if isinstance(ctx.store, SerializedStore) else SerializedStore(ctx.store)
    writer = PollWriter(store)
    states = store.source_states(due)
    ctx = replace(ctx, store=store, polls=writer, claims=Claims() if concurrency > 1 else None,
                  failed_page_sources=store.sources_with_failed_pages(MAX_PAGE_ATTEMPTS))
    report = _Reporter(progress, len(due), poll)
    try:
        if concurrency <= 1:
            return _one_by_one(ctx, due, states, outcomes, report, stop)
        return _side_by_side(ctx, due, states, concurrency, outcomes, report, stop)
    finally:
        writer.flush()


def _poll_one(ctx: RunContext, source_id: str, state: dict[str, Any] | None, report: _Reporter,
              index: int) -> SourceOutcome:
    report.started(source_id, index)
    mine = replace(ctx, on_page=report.pages(source_id, index)) if report.on else ctx
    return report.poll(mine, source_id, state)


def _one_by_one(ctx: RunContext, due: Sequence[str], states: dict[str, dict[str, Any]],
                outcomes: list[SourceOutcome], report: _Reporter, stop: threading.Event | None) -> bool:
    for i, source_id in enumerate(due):
        if stop is not None and stop.is_set():
            return True
        outcomes.append(_poll_one(ctx, source_id, states.get(source_id), report, i))
        report.finished(source_id, outcomes[-1])
    return False


def _side_by_side(ctx: RunContext, due: Sequence[str], states: dict[str, dict[str, Any]], concurrency: int,
                  outcomes: list[SourceOutcome], report: _Reporter, stop: threading.Event | None) -> bool:
    """At most ``concurrency`` sources in flight; a stop lets those finish, starts no more."""
    done: dict[int, SourceOutcome] = {}
    running: dict[Future[SourceOutcome], tuple[int, str]] = {}
    queue = iter(enumerate(due))
    interrupted = False
    with ThreadPoolExecutor(concurrency, thread_name_prefix="newswatch-poll") as pool:
        while True:
            while not interrupted and len(running) < concurrency:
                if stop is not None and stop.is_set():
                    interrupted = True
                    break
                nxt = next(queue, None)
                if nxt is None:
                    break
                running[pool.submit(_poll_one, ctx, nxt[1], states.get(nxt[1]), report, nxt[0])] = nxt
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index, source_id = running.pop(future)
                done[index] = future.result()
                report.finished(source_id, done[index])
    outcomes.extend(done[i] for i in sorted(done))
    return interrupted or len(done) < len(due)


class _Reporter:
    """progress(source_id, sources done, sources due, outcome or None[, detail]), called
    one at a time whichever thread reports."""

    def __init__(self, progress: Progress | None, total: int, poll: Poll) -> None:
        self._progress, self._total, self.poll = progress, total, poll
        self._lock = threading.Lock()
        self._done = 0
        self.on = progress is not None

    def started(self, source_id: str, index: int) -> None:
        if self._progress:
            with self._lock:
                self._progress(source_id, self._done, self._total, None)

    def pages(self, source_id: str, index: int) -> Callable[[str], None]:
        pages = iter(range(1, 1 << 30))

        def page(url: str) -> None:
            with self._lock:
                assert self._progress is not None
                self._progress(source_id, self._done, self._total, None, f"page {next(pages)}: {url}")
        return page

    def finished(self, source_id: str, outcome: SourceOutcome) -> None:
        with self._lock:
            self._done += 1
            if self._progress:
                self._progress(source_id, self._done, self._total, outcome)
