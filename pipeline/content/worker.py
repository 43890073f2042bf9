"""Extraction in a worker process with a hard time limit.

trafilatura's own size and time limits do not apply when it is called as a library, and a
pathological page can keep lxml busy for minutes. The worker is a child process fed one
page at a time over a pipe; when a page passes the limit the child is killed and a new one
started, and the page is recorded as failed ("timeout"). The worker is forked before the
warehouse is opened, so it inherits the imported extractor but no database handles.

``ExtractorPool`` holds several such workers (by default one per core), so pages of
sources polled at once, or the next pages of one source, are extracted side by side
while the main process fetches and writes; one worker is the old single-worker path.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from pipeline.content.extract import extract_page
from pipeline.errors import ExtractError
from pipeline.models import Article


def _worker(conn: Connection, parent_end: Connection | None = None) -> None:
    # The fork copied the parent's end of the pipe too. Closed here, the pipe's last
    # writer is the parent itself, so when it dies (even by SIGKILL) recv() sees EOF and
    # this worker exits, releasing what the fork made it share, such as the writer lock.
    if parent_end is not None:
        parent_end.close()
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", extract_page(*args)))
        except ExtractError as exc:
            conn.send(("err", exc.reason, str(exc)))
        except Exception as exc:  # a crash in the extractor is a failed page, not a failed run
            conn.send(("err", "crashed", f"extractor crashed: {type(exc).__name__}: {exc}"))


class IsolatedExtractor:
    """Callable like ``extract_page``; runs it in a child process with a time limit."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self._ctx = mp.get_context("fork")
        self._proc: Any = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(child, parent), daemon=True,
                                       name="newswatch-extract")
        self._proc.start()
        child.close()
        self._conn = parent

    def __call__(self, body: bytes, url: str, *facts: Any) -> Article:
        """``facts``: extract_page's headers, feed_date and feed_title, in that order."""
        assert self._conn is not None
        try:
            self._conn.send((body, url, *facts))
            ready = self._conn.poll(self.timeout)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError, BrokenPipeError):
            reply, ready = None, True
        if reply is None:
            self._restart()
            reason = "timeout" if not ready else "crashed"
            raise ExtractError(url, reason, f"extraction {'took longer than %gs' % self.timeout if reason == 'timeout' else 'worker died'}")
        if reply[0] == "ok":
            return reply[1]
        raise ExtractError(url, reply[1], reply[2])

    def _restart(self) -> None:
        self.close()
        self._start()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._proc = None

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ExtractorPool:
    """``workers`` isolated extractors, each used by one caller at a time. Callable like
    ``extract_page`` (blocks until a worker is free), or ``submit`` for a Future."""

    def __init__(self, workers: int = 0, timeout: float = 20.0) -> None:
        self.size = workers if workers > 0 else (os.cpu_count() or 1)
        self._idle: queue.Queue[IsolatedExtractor] = queue.Queue()
        for _ in range(self.size):
            self._idle.put(IsolatedExtractor(timeout))
        self._callers = ThreadPoolExecutor(self.size, thread_name_prefix="newswatch-extract")

    def __call__(self, body: bytes, url: str, *facts: Any) -> Article:
        worker = self._idle.get()
        try:
            return worker(body, url, *facts)
        finally:
            self._idle.put(worker)

    def submit(self, body: bytes, url: str, *facts: Any) -> Future[Article]:
        return self._callers.submit(self, body, url, *facts)

    def close(self) -> None:
        self._callers.shutdown(wait=True, cancel_futures=True)
        while not self._idle.empty():
            self._idle.get_nowait().close()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
