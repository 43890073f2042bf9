"""One WARC file -> Parquet shards of article rows. Runs in a pool process or a Dask
worker; never opens the warehouse.

Each kept page becomes exactly the ``articles`` row ``newswatch run`` would store for it
(``refresh._article_row`` after ``refresh._own_identity``), plus what the loader needs: the
page's URL keys, its MinHash signature and band keys, its outlet, and where in which
archive it was found.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from pipeline.acquire.warc import PageFilter, ReadStats, WarcPage, iter_pages
from pipeline.backfill import shards
from pipeline.config.settings import Outlet
from pipeline.config.stories import StoryDef
from pipeline.content import fingerprint as fp
from pipeline.content.extract import extract_page
from pipeline.content.outlets import OutletResolver
from pipeline.content.worker import IsolatedExtractor
from pipeline.errors import ExtractError
from pipeline.models import Article
from pipeline.refresh import _article_row, _own_identity  # noqa: PLC2701 - see _RowContext
from pipeline.store import article_id_for
from pipeline.store.hygiene import clean_record
from pipeline.story.decisions import StoryReference, score_article
from pipeline.story.scorer import build_reference


def page_article(body: bytes, url: str, headers: Sequence[tuple[str, str]], captured: datetime,
                 extract: Extract = extract_page) -> Article:
    """The one adapter between an archived response and an ``Article``: the extraction
    ``newswatch run`` applies to a fetched page (decoding by the archived headers, dates
    with their provenance). An archive has no feed, so no feed date or title; the capture
    time is not a publication date either (it is the sighting's time). ``extract``: in a
    task, ``run``'s isolated extractor with its per-page time limit."""
    return extract(body, url, dict(headers), None, None)


Extract = Callable[..., Article]


@contextmanager
def page_extractor(timeout: float) -> Iterator[tuple[Extract, str | None]]:
    """``run``'s extraction worker (``content.worker``: a forked child killed when a page
    takes longer than ``timeout``), and None; or, where a process may not have children
    (a daemonic Dask worker), the extractor in this process and why there is no limit.
    One child per worker process serves all its tasks: a new child pays trafilatura's
    first-page warm-up again (about a fifth of a 100-page file in the bench)."""
    key = (os.getpid(), timeout)  # a forked process does not use its parent's child
    if key not in _ISOLATED:
        _warm_up()  # here, so the child (and each one started after a timeout) is forked warm
        try:
            _ISOLATED[key] = IsolatedExtractor(timeout)
        except AssertionError as exc:  # multiprocessing: "daemonic processes are not allowed to have children"
            yield extract_page, f"no per-page time limit in this worker process ({exc})"
            return
    yield _ISOLATED[key], None


_ISOLATED: dict[tuple[int, float], IsolatedExtractor] = {}
_WARM_PAGE = ("<html><head><title>Warm-up</title><meta name='date' content='2026-01-02'></head><body><article>"
              + "<p>A paragraph of plain words, long enough to be taken for the text of an article.</p>" * 8
              + "</article></body></html>").encode()


def _warm_up() -> None:
    """One small page through the extractor: its lazy imports and caches are loaded once."""
    try:
        extract_page(_WARM_PAGE, "http://127.0.0.1/warm-up.html", {"content-type": "text/html"}, None, None)
    except Exception:  # noqa: BLE001 - a warm-up that fails only leaves the child cold
        pass


@dataclass(frozen=True)
class StoryFilter:
    """A story and its seed texts, sent to workers (which may not see the config folder);
    each worker process builds the reference once."""

    story: StoryDef
    seeds: tuple[tuple[str, str], ...]  # (seed file, text)

    def reference(self) -> StoryReference:
        key = (self.story, self.seeds)
        if key not in _REFERENCES:
            _REFERENCES[key] = StoryReference(build_reference(self.story, self.seeds),
                                              frozenset(name for name, _ in self.seeds))
        return _REFERENCES[key]


_REFERENCES: dict[tuple[StoryDef, tuple[tuple[str, str], ...]], StoryReference] = {}


@dataclass(frozen=True)
class FileTask:
    """Everything one task needs, picklable (pool and Dask alike)."""

    warc: str
    shard_root: str
    wanted: PageFilter
    outlets: tuple[Outlet, ...]
    story: StoryFilter | None = None  # keep only pages this story does not rule out
    max_body: int = 15 * 1024 * 1024
    page_timeout: float = 30.0  # seconds one page's extraction may take (http.page_timeout, as in run)


COUNTED = ("records", "pages", "not_html", "not_ok", "unreadable", "kept", "off_story")  # summed over files


@dataclass(frozen=True)
class FileResult:
    warc: str
    key: str
    done: bool  # shards and manifest written (now or by an earlier invocation)
    skipped: bool = False  # done before: nothing read
    records: int = 0
    pages: int = 0
    not_html: int = 0
    not_ok: int = 0
    unreadable: int = 0
    kept: int = 0
    off_story: int = 0
    extract_failed: tuple[tuple[str, int], ...] = ()
    timed_out: tuple[str, ...] = ()  # "<WARC file>@<offset>" of pages past the time limit
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    pid: int = field(default_factory=os.getpid)


def run_task(task: FileTask) -> FileResult:
    """Read one file into shards; a file done before is not read again."""
    path, root = Path(task.warc), Path(task.shard_root)
    try:
        key = shards.warc_key(path)
    except OSError as exc:
        return FileResult(task.warc, "", False, errors=(f"{task.warc}: cannot read: {exc.strerror or exc}",))
    done = shards.manifest(root, key)
    if done is not None:
        return FileResult(task.warc, key, True, skipped=True, records=done.get("records", 0),
                          kept=done.get("kept", 0))
    return _read_file(task, path, root, key)


def _read_file(task: FileTask, path: Path, root: Path, key: str) -> FileResult:
    started, stats, failed, slow = time.monotonic(), ReadStats(), Counter(), []
    resolver, rows, off_story = OutletResolver(task.outlets), [], 0
    story = task.story.reference() if task.story is not None else None
    work = shards.start_work(root, key)  # its name says which process holds the file
    tick = shards.Ticker(work)
    try:
        with page_extractor(task.page_timeout) as (extract, no_limit):
            for page in iter_pages(path, task.wanted, stats, max_body=task.max_body):
                row = _row(page, key, path, resolver, failed, extract)
                if row is None and failed["timeout"] > len(slow):
                    slow.append(f"{path}@{page.offset}")  # the rest of the file carries on
                if row is not None and story is not None and score_article(story, row).decision == "not":
                    off_story, row = off_story + 1, None
                if row is not None:
                    rows.append(row)
                tick(stats.records, len(rows))
    except OSError as exc:
        shards.abandon_work(work)
        return FileResult(task.warc, key, False, errors=(f"{task.warc}: cannot read: {exc.strerror or exc}",))
    result = FileResult(task.warc, key, True, records=stats.records, pages=stats.pages,
                        not_html=stats.not_html, not_ok=stats.not_ok, unreadable=stats.unreadable, kept=len(rows),
                        off_story=off_story, extract_failed=tuple(sorted(failed.items())), timed_out=tuple(slow),
                        errors=tuple(([no_limit] if no_limit else []) + stats.errors[:20]),
                        seconds=round(time.monotonic() - started, 3))
    shards.finish_work(root, key, work, rows, result.__dict__)
    return result


@dataclass(frozen=True)
class _RowContext:
    """What ``refresh._own_identity`` and ``refresh._article_row`` read of a poll's
    context. Backfill calls exactly the functions ``run`` stores a page with, so whatever
    they come to write (columns added by other issues) backfill writes too; they stay
    private to ``refresh`` for now to keep parallel branches' merges small."""

    resolver: OutletResolver
    now: datetime  # the capture time: an archived page was first seen when it was captured
    run_id: int | None  # set by the loader


def _row(page: WarcPage, key: str, path: Path, resolver: OutletResolver,
         failed: Counter[str], extract: Extract = extract_page) -> dict[str, Any] | None:
    try:
        article = page_article(page.body, page.url, page.headers, page.captured, extract)
    except ExtractError as exc:
        failed[exc.reason] += 1
        return None
    except Exception as exc:  # noqa: BLE001 - one page that crashes the extractor is one page
        failed[f"crashed: {type(exc).__name__}"] += 1
        return None
    ctx = _RowContext(resolver, page.captured, None)
    article, declared = _own_identity(ctx, article)  # type: ignore[arg-type]
    outlet = resolver.resolve(article.url, article.site_name)
    print_ = fp.fingerprint(article.text)
    row = _article_row(ctx, article_id_for(article.canonical_url), article, outlet, print_)  # type: ignore[arg-type]
    row.update(
        declared_canonical=declared,
        url_keys=sorted({fp.canonical_url(page.url), fp.canonical_url(article.url), article.canonical_url}),
        minhash=list(print_.minhash), bands=list(print_.bands),
        outlet_name=outlet.name if outlet else None, outlet_domain=outlet.domain if outlet else None,
        outlet_configured=bool(outlet and outlet.configured),
        # Where the page can be read again (`newswatch reextract --source backfill`).
        warc_file=str(path), warc_offset=page.offset,
        warc_key=key, warc_name=path.name, record_id=page.record_id, record_offset=page.offset,
        captured_at=page.captured, source=outlet.outlet_id if outlet else page.host,
        month=page.captured.strftime("%Y-%m"))
    return clean_record(row)  # archived pages skip save_batch: the same hygiene here (issue 10)
