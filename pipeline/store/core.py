"""The core of the store: connect, migrate, apply views, lock, runs, sources, articles,
and the batch of one source (the package docstring says how the warehouse is shared)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from pipeline.errors import LockedError, StoreError

from .hygiene import clean_record, clean_row

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# Values per `IN (?, ...)` lookup: enough to amortise a statement, few enough that the
# rows found stay under DuckDB's index-scan threshold (see ``open_writer``).
IN_CHUNK = 1000


def sql_files(kind: str) -> list[tuple[str, str]]:
    """(file name, SQL text) of warehouse/<kind>/*.sql, in name order."""
    try:
        folder = resources.files("pipeline.warehouse") / kind
    except ModuleNotFoundError:  # running from a source tree without installing
        folder = Path(__file__).resolve().parents[2] / "warehouse" / kind
    files = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return [(f.name, f.read_text(encoding="utf-8")) for f in sorted(files, key=lambda f: f.name)]


# What a full disk, a read-only or failing device, or a database invalidated by them
# raises: storage errors stop the job (exit 4); any other error is the source's own.
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def is_storage_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in _STORAGE_ERRNOS
    return isinstance(exc, (duckdb.IOException, duckdb.FatalException, duckdb.TransactionException,
                            duckdb.OutOfMemoryException))


@contextmanager
def storage_errors(warehouse: Path) -> Iterator[None]:
    """Storage errors inside the block become one StoreError naming the warehouse."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        if not is_storage_error(exc):
            raise
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise StoreError(f"the warehouse {warehouse} needed more memory than DuckDB may use: "
                             f"{str(exc).strip().splitlines()[0][:300]}",
                             remedy="raise [warehouse] memory_limit in newswatch.toml (\"\" lets DuckDB "
                                    "use up to 80 % of RAM)") from exc
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
        raise StoreError(f"cannot write the warehouse {warehouse}: {reason}") from exc


def article_id_for(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


@contextmanager
def writer_lock(warehouse: Path) -> Iterator[Path]:
    """Hold the warehouse's lock file for the length of a writing job (non-blocking)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LockedError(f"another newswatch job is writing to {warehouse} ({holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield lock_path
    finally:
        os.close(fd)  # closing releases the flock, also when the process is killed


def lock_is_held(warehouse: Path) -> bool:
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    if not lock_path.exists():
        return False
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class Core:
    """An open warehouse connection: lifecycle, runs, sources, articles and the batch
    of one source. ``Store`` adds the query families of the other modules."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> SQL type

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def migrate(self) -> list[str]:
        """Apply pending migrations in order, each once, each in its own transaction."""
        self.con.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        done = {r[0] for r in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for name, sql in sql_files("migrations"):
            m = _MIGRATION_NAME.match(name)
            if not m or int(m.group(1)) in done:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [int(m.group(1)), name])
            applied.append(name)
        return applied

    def apply_views(self) -> None:
        with self.transaction():
            for name, sql in sql_files("views"):
                try:
                    self.con.execute(sql)
                except duckdb.Error as exc:
                    raise StoreError(f"view {name} failed to apply: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- generic reads -----------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, list(params))
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    def rows_in(self, sql: str, values: Sequence[Any], chunk: int = IN_CHUNK) -> list[tuple]:
        """Rows of ``sql`` whose ``{}`` is filled with a list of ``values``, asked a chunk at a
        time. ``col IN (?, ?, ...)`` on an indexed column is answered from the index (DuckDB
        does not do that for ``IN (SELECT unnest(?))`` or ``= ANY(?)``, which scan the table)."""
        values = list(values)
        rows: list[tuple] = []
        for start in range(0, len(values), chunk):
            part = values[start:start + chunk]
            rows += self.con.execute(sql.format(_marks(len(part))), part).fetchall()
        return rows

    def update_in(self, sql: str, head: Sequence[Any], values: Sequence[Any], chunk: int = IN_CHUNK) -> None:
        """``rows_in`` for a statement that returns nothing; ``head`` are its parameters
        before the list."""
        values = list(values)
        for start in range(0, len(values), chunk):
            part = values[start:start + chunk]
            self.con.execute(sql.format(_marks(len(part))), [*head, *part])

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, now: datetime) -> int:
        # We hold the writer lock: a run still marked running was killed before it finished.
        self.con.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
        run_id = int(self.scalar("SELECT coalesce(max(run_id), 0) + 1 FROM runs"))
        self.con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (?, ?, 'running')", [run_id, now])
        return run_id

    def finish_run(self, run_id: int, now: datetime, status: str, counts: dict[str, int]) -> None:
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, sources_ok = ?, sources_failed = ?, "
            "new_sightings = ?, new_articles = ?, extraction_failures = ?, seeds_loaded = ? WHERE run_id = ?",
            [now, status, counts["sources_ok"], counts["sources_failed"], counts["new_sightings"],
             counts["new_articles"], counts["extraction_failures"], counts["seeds_loaded"], run_id])

    # -- sources -------------------------------------------------------------------------
    def sync_sources(self, sources: Sequence[Any]) -> None:
        """Make the sources table match the configuration, keeping poll state. Set-based,
        and only rows that differ are written: an unchanged configuration writes nothing."""
        cols = [[s.id for s in sources], [s.kind for s in sources], [s.url for s in sources],
                [s.outlet for s in sources], [s.story for s in sources]]
        with self.transaction():
            self.con.execute("UPDATE sources SET active = FALSE WHERE active AND "
                             "source_id NOT IN (SELECT unnest(?::VARCHAR[]))", [cols[0]])
            self.con.execute(
                "INSERT INTO sources (source_id, kind, url, outlet_id, story_id, active) "
                "SELECT c.*, TRUE FROM (SELECT unnest(?::VARCHAR[]) AS source_id, unnest(?::VARCHAR[]) AS kind, "
                "unnest(?::VARCHAR[]) AS url, unnest(?::VARCHAR[]) AS outlet_id, unnest(?::VARCHAR[]) AS story_id) c "
                "WHERE NOT EXISTS (SELECT 1 FROM sources s WHERE s.source_id = c.source_id AND s.active "
                "AND s.kind = c.kind AND s.url = c.url AND s.outlet_id IS NOT DISTINCT FROM c.outlet_id "
                "AND s.story_id IS NOT DISTINCT FROM c.story_id) "
                "ON CONFLICT (source_id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
                "outlet_id = excluded.outlet_id, story_id = excluded.story_id, active = TRUE", cols)

    def sync_outlets(self, outlets: Sequence[Any], now: datetime) -> None:
        """Configured outlets, set-based; rows already as configured are not rewritten."""
        cols = [[o.id for o in outlets], [o.name for o in outlets],
                [o.domains[0] if o.domains else None for o in outlets]]
        with self.transaction():
            self.con.execute(
                "INSERT INTO outlets SELECT c.*, TRUE, ? FROM (SELECT unnest(?::VARCHAR[]) AS outlet_id, "
                "unnest(?::VARCHAR[]) AS name, unnest(?::VARCHAR[]) AS domain) c "
                "WHERE NOT EXISTS (SELECT 1 FROM outlets o WHERE o.outlet_id = c.outlet_id AND o.configured "
                "AND o.name = c.name AND o.domain IS NOT DISTINCT FROM c.domain) "
                "ON CONFLICT (outlet_id) DO UPDATE SET name = excluded.name, domain = excluded.domain, "
                "configured = TRUE", [now, *cols])

    def source_states(self, source_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The poll state of many sources in one query (source_id -> row)."""
        cols, rows = self.query("SELECT * FROM sources WHERE source_id IN (SELECT unnest(?::VARCHAR[]))",
                                [list(source_ids)])
        return {r[0]: dict(zip(cols, r)) for r in rows}

    def sources_with_failed_pages(self, max_attempts: int) -> set[str]:
        """Sources that have a page worth another try (``failed_pages_of``), in one query,
        so an unchanged feed without any costs no query of its own."""
        _, rows = self.query("SELECT DISTINCT s.source_id FROM sightings s JOIN articles a USING (article_id) "
                             "WHERE a.status = 'failed' AND a.fail_transient AND a.attempts < ?", [max_attempts])
        return {r[0] for r in rows}

    def source_state(self, source_id: str) -> dict[str, Any]:
        cols, rows = self.query("SELECT * FROM sources WHERE source_id = ?", [source_id])
        return dict(zip(cols, rows[0])) if rows else {}

    def due_sources(self, now: datetime) -> list[str]:
        cols, rows = self.query("SELECT source_id FROM sources WHERE active AND "
                                "(next_check_at IS NULL OR next_check_at <= ?) ORDER BY source_id", [now])
        return [r[0] for r in rows]

    # -- articles ------------------------------------------------------------------------
    def article_for_url(self, url_key: str) -> tuple[str, str] | None:
        """(article_id, status) of the article a URL is known to lead to."""
        return self.articles_for_urls([url_key])[url_key]

    def articles_for_urls(self, url_keys: Sequence[str]) -> dict[str, tuple[str, str] | None]:
        """Every key -> (article_id, status) of the article it is known to lead to, or
        None. Two key lookups, not a join, which scans ``articles`` (issue 12)."""
        ids = dict(self.rows_in("SELECT url_key, article_id FROM article_urls WHERE url_key IN ({})", url_keys))
        status = dict(self.rows_in("SELECT article_id, status FROM articles WHERE article_id IN ({})",
                                   sorted(set(ids.values()))))
        return {k: (ids[k], status[ids[k]]) if ids.get(k) in status else None for k in url_keys}

    def article_attempts(self, article_id: str) -> int:
        return int(self.scalar("SELECT attempts FROM articles WHERE article_id = ?", [article_id]) or 0)

    def retryable(self, article_id: str, max_attempts: int) -> bool:
        """A failed page whose failure was transient and that has attempts left."""
        return bool(self.scalar("SELECT status = 'failed' AND coalesce(fail_transient, FALSE) AND attempts < ? "
                                "FROM articles WHERE article_id = ?", [max_attempts, article_id]))

    def failed_pages_of(self, source_id: str, max_attempts: int) -> list[tuple]:
        """(entry_key, url, title, published_at, description) of this source's pages worth
        another try."""
        _, rows = self.query(
            "SELECT s.entry_key, a.url, a.title, a.published_at, a.description FROM sightings s "
            "JOIN articles a USING (article_id) "
            "WHERE s.source_id = ? AND a.status = 'failed' AND a.fail_transient AND a.attempts < ? "
            "ORDER BY a.first_seen_at, s.entry_key", [source_id, max_attempts])
        return rows

    def robots_txt(self, origin: str, since: datetime) -> tuple[int | None, str | None] | None:
        """(status, body) of the origin's robots.txt fetched after ``since``, if any."""
        row = self.con.execute("SELECT status, body FROM robots_txt WHERE origin = ? AND fetched_at > ?",
                               [origin, since]).fetchone()
        return (row[0], row[1]) if row else None

    def save_robots_txt(self, origin: str, now: datetime, status: int | None, body: str | None) -> None:
        self.con.execute("INSERT INTO robots_txt VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                         "fetched_at = excluded.fetched_at, status = excluded.status, body = excluded.body",
                         [origin, now, status, body])

    # -- the batch of one source -----------------------------------------------------------
    def save_batch(self, batch: Batch) -> None:
        """Everything one source produced, in one transaction with its poll state. Every
        write of fetched material passes here, so here its text is cleaned (``hygiene``)."""
        batch = _cleaned(batch)
        with self.transaction():
            self._save_outlets(batch.outlets)
            ids = [a["article_id"] for a in batch.articles]
            stale = self._window_holders(ids)
            self._save_articles(batch.articles)
            self._forget_windows(stale | self._checked_outlets(ids))
            self._save_urls(batch.urls)
            self._save_fingerprints(batch.fingerprints)
            self._save_sightings(batch.sightings)
            if batch.relink:
                self._forget_links(batch.relink)
            if batch.rescore:
                self.con.execute("DELETE FROM story_scores WHERE article_id IN (SELECT unnest(?::VARCHAR[]))",
                                 [batch.rescore])
            if batch.fetch_log:
                self._insert("INSERT INTO fetch_log VALUES", batch.fetch_log)
            if batch.source_state:
                self._save_source_state(batch.source_state)

    def _forget_links(self, ids: list[str]) -> None:
        """Texts changed (reextract): their links and title keys go, their clusters are
        recomputed; articles still extracted are checked again (``dedup_at`` cleared by the row)."""
        self.con.execute("DELETE FROM dup_links WHERE article_a IN (SELECT unnest(?::VARCHAR[])) "
                         "OR article_b IN (SELECT unnest(?::VARCHAR[]))", [ids, ids])
        self.con.execute("DELETE FROM title_keys WHERE article_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        self.con.execute("INSERT INTO cluster_queue SELECT unnest(?::VARCHAR[]) ON CONFLICT DO NOTHING", [ids])

    # An outlet's template window (migration 0016) is its kept recent pages; a learning
    # pass merges the outlet's pending pages into it. A row upsert can break that: a page of
    # the window changed, or a page already checked (so never pending again) entered the
    # outlet. Those outlets lose their window and are relearnt from articles next time.
    def _window_holders(self, ids: Sequence[str]) -> set[str]:
        """Outlets whose kept window holds one of ``ids``."""
        return {r[0] for r in self.rows_in("SELECT outlet_id FROM template_pages WHERE article_id IN ({})", ids)}

    def _checked_outlets(self, ids: Sequence[str]) -> set[str]:
        """Outlets of those of ``ids`` that are extracted pages already checked for copies."""
        return {r[0] for r in self.rows_in("SELECT outlet_id FROM articles WHERE article_id IN ({}) AND dedup_at "
                                           "IS NOT NULL AND status = 'extracted' AND outlet_id IS NOT NULL", ids)}

    def _forget_windows(self, outlets: set[str]) -> None:
        if outlets:  # both tables are bounded by the outlets: filtered scans
            self.con.execute("DELETE FROM template_state WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))",
                             [sorted(outlets)])
            self.con.execute("DELETE FROM template_pages WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))",
                             [sorted(outlets)])

    def _save_outlets(self, outlets: list[tuple]) -> None:
        if outlets:
            self._insert("INSERT INTO outlets SELECT col0, col1, col2, FALSE, col3 FROM (VALUES",
                         _unique(outlets, 1), suffix=") ON CONFLICT DO NOTHING")

    def _save_articles(self, articles: list[dict[str, Any]]) -> None:
        """Upsert article rows; rows are grouped by the columns they carry, so a failure
        row never blanks the fields it does not know."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for a in articles:
            groups.setdefault(tuple(a), []).append(a)
        for cols, rows in groups.items():
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("article_id", "first_seen_at"))
            self._insert(f"INSERT INTO articles ({', '.join(cols)}) VALUES",
                         _unique([tuple(a[c] for c in cols) for a in rows], 1),
                         suffix=f" ON CONFLICT (article_id) DO UPDATE SET {updates}")

    def _save_urls(self, urls: list[tuple[str, str]]) -> None:
        if urls:
            self._insert("INSERT INTO article_urls VALUES", _unique(urls, 1), suffix=" ON CONFLICT DO NOTHING")

    def _save_fingerprints(self, fps: list[tuple[str, list[int], list[int]]]) -> None:
        """All signatures and band keys of a batch in three set-based statements (one
        INSERT per row would cost a round trip per band key: 64 per article)."""
        if not fps:
            return
        ids = [f[0] for f in fps]
        # Only a page read again has keys to drop; lsh_bands is not indexed by article, so
        # the delete (a scan) is skipped for new articles, the usual case.
        known = [r[0] for r in self.rows_in("SELECT article_id FROM fingerprints WHERE article_id IN ({})", ids)]
        if known:
            self.update_in("DELETE FROM fingerprints WHERE article_id IN ({})", [], known)
            self.update_in("DELETE FROM lsh_bands WHERE article_id IN ({})", [], known)
        self.con.execute("INSERT INTO fingerprints SELECT unnest(?::VARCHAR[]), unnest(?::UBIGINT[][])",
                         [ids, [list(f[1]) for f in fps]])
        self.con.execute(
            "INSERT INTO lsh_bands SELECT DISTINCT unnest(b), a FROM "
            "(SELECT unnest(?::VARCHAR[]) AS a, unnest(?::BIGINT[][]) AS b)",
            [ids, [list(f[2]) for f in fps]])

    def _save_sightings(self, sightings: list[tuple]) -> None:
        if sightings:
            self._insert("INSERT INTO sightings VALUES", _unique(sightings, 2),
                         suffix=" ON CONFLICT (source_id, entry_key) DO UPDATE SET last_seen_at = excluded.last_seen_at")

    def _insert(self, head: str, rows: Sequence[Sequence[Any]], *, suffix: str = "", chunk: int = 400) -> None:
        """Multi-row VALUES statements: DuckDB runs ``executemany`` one row at a time,
        which costs milliseconds a row; one statement per few hundred rows does not."""
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            values = ", ".join(f"({_marks(len(r))})" for r in part)
            self.con.execute(f"{head} {values}{suffix}", [v for r in part for v in r])

    def save_polls(self, fetch_log: list[tuple], states: list[dict[str, Any]]) -> None:
        """The log rows and poll states of many polls that produced nothing else (an
        unchanged feed, a failed one), in one transaction of set-based statements."""
        with self.transaction():
            if fetch_log:
                self._insert_columns("fetch_log", fetch_log)
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for state in states:
                groups.setdefault(tuple(state), []).append(state)
            for cols, rows in groups.items():
                self._update_sources(cols, rows)

    def _update_sources(self, cols: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        types = self._column_types("sources")
        picks = ", ".join(f"unnest(?::{types[c]}[]) AS {c}" for c in cols)
        sets = ", ".join(f"{c} = v.{c}" for c in cols if c != "source_id")
        self.con.execute(f"UPDATE sources SET {sets} FROM (SELECT {picks}) v WHERE sources.source_id = v.source_id",
                         [[r[c] for r in rows] for c in cols])

    def _insert_columns(self, table: str, rows: list[tuple]) -> None:
        """All rows in one statement of one array per column: binding a parameter per
        value costs DuckDB ~0.3 ms a row; a few arrays cost next to nothing."""
        types = self._column_types(table)
        picks = ", ".join(f"unnest(?::{t}[])" for t in types.values())
        self.con.execute(f"INSERT INTO {table} SELECT {picks}", [list(col) for col in zip(*rows)])

    def _column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            _, rows = self.query("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = ? ORDER BY ordinal_position", [table])
            self._types[table] = {r[0]: r[1] for r in rows}
        return self._types[table]

    def _save_source_state(self, state: dict[str, Any]) -> None:
        cols = [c for c in state if c != "source_id"]
        sets = ", ".join(f"{c} = ?" for c in cols)
        self.con.execute(f"UPDATE sources SET {sets} WHERE source_id = ?",
                         [state[c] for c in cols] + [state["source_id"]])


@dataclass
class Batch:
    """Rows one source produced in one run, written together by ``save_batch``."""

    outlets: list[tuple] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    urls: list[tuple[str, str]] = field(default_factory=list)
    fingerprints: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    sightings: list[tuple] = field(default_factory=list)
    fetch_log: list[tuple] = field(default_factory=list)
    source_state: dict[str, Any] = field(default_factory=dict)
    rescore: list[str] = field(default_factory=list)  # articles whose text changed: old scores go
    relink: list[str] = field(default_factory=list)  # ... and their near-duplicate links (reextract)


def _cleaned(batch: Batch) -> Batch:
    """The batch without control characters in any text it carries (hygiene)."""
    return replace(
        batch, outlets=[clean_row(r) for r in batch.outlets],
        articles=[clean_record(a) for a in batch.articles], urls=[clean_row(r) for r in batch.urls],
        sightings=[clean_row(r) for r in batch.sightings], fetch_log=[clean_row(r) for r in batch.fetch_log],
        source_state=clean_record(batch.source_state))


def _unique(rows: Sequence[Sequence[Any]], key_len: int) -> list[tuple]:
    """Rows with the same key (the first ``key_len`` values) collapse to the last one: one
    statement may not touch a row twice under ON CONFLICT DO UPDATE."""
    last: dict[tuple, tuple] = {}
    for r in rows:
        last[tuple(r[:key_len])] = tuple(r)
    return list(last.values())


def _marks(n: int) -> str:
    return ", ".join("?" * n)
