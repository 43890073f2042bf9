"""The only room that speaks SQL: connect, migrate, apply views, lock, batch writes, read.

DuckDB lets one process hold the file read-write and others read only when no writer
holds it. So a job opens the warehouse, works, and closes it; writers first take a
non-blocking lock file beside the warehouse, and a second writer exits at once with
``LockedError``. Each source's results are written in one transaction together with the
source's poll state, so a crash or kill loses at most the source in progress, whose feed
is then fetched again (without validators) by the next run.

    core.py       connection, migrations, views, lock, runs, sources, articles, batches
    analysis.py   story scores, near-duplicate candidates and links
    clusters.py   title keys, clusters of copies (full or for what changed)
    outbox.py     the digest's content and its outbox
    discovery.py  unresolved aggregator items
    archived.py   articles whose pages are archived (``newswatch reextract``)
    hygiene.py    control characters removed before any write, escaped before printing
    backfill.py   loading archive shards, exporting a story as Parquet
    parquet.py    Parquet written and merged without the warehouse (backfill workers)
    pending.py    backfill shards not loaded yet, seen in place by the views
    template.py   each outlet's template shingles (issue 11) and its kept window of pages (issue 12)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.errors import LockedError, StoreError

from .analysis import AnalysisQueries
from .archived import ArchivedQueries
from .backfill import BackfillQueries, SnapshotQueries
from .clusters import ClusterQueries
from .core import (
    Batch,
    Core,
    article_id_for,
    is_storage_error,
    lock_is_held,
    sql_files,
    storage_errors,
    writer_lock,
)
from .discovery import DiscoveryQueries
from .outbox import OutboxQueries
from .pending import PendingQueries
from .template import TemplateQueries

__all__ = ["Batch", "Store", "article_id_for", "is_storage_error", "lock_is_held", "open_reader",
           "open_writer", "sql_files", "storage_errors", "writer_lock"]


# A lookup of IN_CHUNK keys finds a little more than IN_CHUNK rows (keys shared by several
# articles); DuckDB's default (2,048 rows, or 0.1 % of the table) would turn the larger
# ones into table scans on a small warehouse.
INDEX_SCAN = "SET index_scan_max_count = 20000"


class Store(AnalysisQueries, ArchivedQueries, ClusterQueries, OutboxQueries, DiscoveryQueries, BackfillQueries,
            SnapshotQueries, TemplateQueries, PendingQueries, Core):
    """An open warehouse connection. Use ``open_writer`` / ``open_reader``."""


def _limit_memory(con: duckdb.DuckDBPyConnection, memory_limit: str | None) -> None:
    """DuckDB's ``memory_limit`` (``[warehouse] memory_limit``, validated by config): its
    page cache otherwise grows toward 80 % of RAM on a large warehouse."""
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")


def open_writer(path: Path, memory_limit: str | None = None) -> Store:
    """Open read-write, migrate and (re)apply views. The caller holds ``writer_lock``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            # DuckDB's own file lock: another job holds the warehouse although our lock
            # file let us in (someone deleted the lock file while that job ran).
            raise LockedError(f"another process is writing to {path}: "
                              f"{str(exc).splitlines()[0][:300]}") from exc
        raise StoreError(f"cannot open warehouse {path}: {exc}") from exc
    store = Store(con, path)
    _limit_memory(con, memory_limit)
    store.con.execute("SET TimeZone = 'UTC'")
    store.con.execute(INDEX_SCAN)
    store.migrate()
    store.apply_views()
    store.define_backfill_pending()  # the shards it may read changed while it was closed
    return store


def open_reader(path: Path, memory_limit: str | None = None) -> Store:
    """Open read-only; say plainly when a run is writing or nothing was collected yet."""
    if not path.exists():
        raise StoreError(f"no warehouse at {path} yet", remedy="run `newswatch run` first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if lock_is_held(path):
            raise LockedError(f"a newswatch run is writing to {path} right now; "
                              "read it again when the run has finished") from exc
        raise StoreError(f"cannot open warehouse {path} read-only: {exc}") from exc
    _limit_memory(con, memory_limit)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(INDEX_SCAN)
    return Store(con, path)
