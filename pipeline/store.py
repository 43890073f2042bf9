"""The only room that speaks SQL: connect, migrate, apply views, lock, batch writes, read.

DuckDB lets one process hold the file read-write and others read only when no writer
holds it. So a job opens the warehouse, works, and closes it; writers first take a
non-blocking lock file beside the warehouse, and a second writer exits at once with
``LockedError``. Each source's results are written in one transaction together with the
source's poll state, so a crash or kill loses at most the source in progress, whose feed
is then fetched again (without validators) by the next run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from .errors import LockedError, StoreError

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def sql_files(kind: str) -> list[tuple[str, str]]:
    """(file name, SQL text) of warehouse/<kind>/*.sql, in name order."""
    try:
        folder = resources.files("pipeline.warehouse") / kind
    except ModuleNotFoundError:  # running from a source tree without installing
        folder = Path(__file__).resolve().parent.parent / "warehouse" / kind
    files = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return [(f.name, f.read_text(encoding="utf-8")) for f in sorted(files, key=lambda f: f.name)]


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


class Store:
    """An open warehouse connection. Use ``open_writer`` / ``open_reader``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

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

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, now: datetime) -> int:
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
        """Make the sources table match the configuration, keeping poll state."""
        with self.transaction():
            self.con.execute("UPDATE sources SET active = FALSE")
            for s in sources:
                self.con.execute(
                    "INSERT INTO sources (source_id, kind, url, outlet_id, story_id, active) "
                    "VALUES (?, ?, ?, ?, ?, TRUE) ON CONFLICT (source_id) DO UPDATE SET kind = excluded.kind, "
                    "url = excluded.url, outlet_id = excluded.outlet_id, story_id = excluded.story_id, active = TRUE",
                    [s.id, s.kind, s.url, s.outlet, s.story])
            # A source whose URL changed starts over: its validators belonged to the old URL.

    def sync_outlets(self, outlets: Sequence[Any], now: datetime) -> None:
        with self.transaction():
            for o in outlets:
                self.con.execute(
                    "INSERT INTO outlets VALUES (?, ?, ?, TRUE, ?) ON CONFLICT (outlet_id) DO UPDATE "
                    "SET name = excluded.name, domain = excluded.domain, configured = TRUE",
                    [o.id, o.name, o.domains[0] if o.domains else None, now])

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
        row = self.con.execute("SELECT a.article_id, a.status FROM article_urls u JOIN articles a USING (article_id) "
                               "WHERE u.url_key = ?", [url_key]).fetchone()
        return (row[0], row[1]) if row else None

    def article_attempts(self, article_id: str) -> int:
        return int(self.scalar("SELECT attempts FROM articles WHERE article_id = ?", [article_id]) or 0)

    def known_outlet_ids(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT outlet_id FROM outlets").fetchall()}

    # -- the batch of one source -----------------------------------------------------------
    def save_batch(self, batch: Batch) -> None:
        """Everything one source produced, in one transaction with its poll state."""
        with self.transaction():
            self._save_outlets(batch.outlets)
            self._save_articles(batch.articles)
            self._save_urls(batch.urls)
            self._save_fingerprints(batch.fingerprints)
            self._save_sightings(batch.sightings)
            if batch.fetch_log:
                self.con.executemany(f"INSERT INTO fetch_log VALUES ({_marks(12)})", batch.fetch_log)
            if batch.source_state:
                self._save_source_state(batch.source_state)

    def _save_outlets(self, outlets: list[tuple]) -> None:
        if outlets:
            self.con.executemany("INSERT INTO outlets VALUES (?, ?, ?, FALSE, ?) ON CONFLICT DO NOTHING", outlets)

    def _save_articles(self, articles: list[dict[str, Any]]) -> None:
        """Upsert article rows; rows are grouped by the columns they carry, so a failure
        row never blanks the fields it does not know."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for a in articles:
            groups.setdefault(tuple(a), []).append(a)
        for cols, rows in groups.items():
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("article_id", "first_seen_at"))
            self.con.executemany(
                f"INSERT INTO articles ({', '.join(cols)}) VALUES ({_marks(len(cols))}) "
                f"ON CONFLICT (article_id) DO UPDATE SET {updates}",
                [[a[c] for c in cols] for a in rows])

    def _save_urls(self, urls: list[tuple[str, str]]) -> None:
        if urls:
            self.con.executemany("INSERT INTO article_urls VALUES (?, ?) ON CONFLICT DO NOTHING", urls)

    def _save_fingerprints(self, fps: list[tuple[str, list[int], list[int]]]) -> None:
        for article_id, minhash, bands in fps:
            self.con.execute("INSERT INTO fingerprints VALUES (?, ?) ON CONFLICT (article_id) DO UPDATE "
                             "SET minhash = excluded.minhash", [article_id, minhash])
            self.con.execute("DELETE FROM lsh_bands WHERE article_id = ?", [article_id])
            self.con.executemany("INSERT INTO lsh_bands VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 [(b, article_id) for b in bands])

    def _save_sightings(self, sightings: list[tuple]) -> None:
        if sightings:
            self.con.executemany(
                f"INSERT INTO sightings VALUES ({_marks(11)}) ON CONFLICT (source_id, entry_key) "
                "DO UPDATE SET last_seen_at = excluded.last_seen_at", sightings)

    def _save_source_state(self, state: dict[str, Any]) -> None:
        cols = [c for c in state if c != "source_id"]
        sets = ", ".join(f"{c} = ?" for c in cols)
        self.con.execute(f"UPDATE sources SET {sets} WHERE source_id = ?",
                         [state[c] for c in cols] + [state["source_id"]])


    # -- stories, near-duplicates, clusters (issue 3) --------------------------------------
    def articles_to_dedup(self) -> list[dict[str, Any]]:
        """Extracted and reference articles whose near-duplicates were not checked yet."""
        cols, rows = self.query(
            "SELECT article_id, body, word_count, content_hash, outlet_id, title, site_name, published_at, "
            "first_seen_at, declared_canonical FROM articles WHERE status IN ('extracted', 'reference') "
            "AND dedup_at IS NULL AND body IS NOT NULL ORDER BY first_seen_at, article_id")
        return [dict(zip(cols, r)) for r in rows]

    def band_candidates(self, article_id: str) -> list[str]:
        """Articles sharing at least one LSH band key with ``article_id``."""
        _, rows = self.query(
            "SELECT DISTINCT b.article_id FROM lsh_bands b WHERE b.band_key IN "
            "(SELECT band_key FROM lsh_bands WHERE article_id = ?) AND b.article_id <> ? ORDER BY 1",
            [article_id, article_id])
        return [r[0] for r in rows]

    def same_hash(self, article_id: str, content_hash: str) -> list[str]:
        _, rows = self.query("SELECT article_id FROM articles WHERE content_hash = ? AND article_id <> ? "
                             "AND status IN ('extracted', 'reference') ORDER BY 1", [content_hash, article_id])
        return [r[0] for r in rows]

    def bodies(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        _, rows = self.query("SELECT article_id, body FROM articles WHERE article_id IN "
                             f"({_marks(len(ids))}) AND body IS NOT NULL", list(ids))
        return dict(rows)

    def outlet_titles_near(self, outlet_id: str, when: datetime, article_id: str) -> list[tuple[str, str, str | None]]:
        """(article_id, title, site_name) of the outlet's articles within 7 days of ``when``."""
        _, rows = self.query(
            "SELECT article_id, title, site_name FROM articles WHERE outlet_id = ? AND article_id <> ? "
            "AND status = 'extracted' AND title IS NOT NULL "
            "AND abs(epoch(coalesce(published_at, first_seen_at)) - epoch(CAST(? AS TIMESTAMPTZ))) <= 7 * 86400",
            [outlet_id, article_id, when])
        return [tuple(r) for r in rows]

    def save_dup_links(self, links: list[tuple], done: list[str], now: datetime) -> None:
        """Confirmed pairs (a, b, relation, jaccard, containment) and the articles checked."""
        with self.transaction():
            if links:
                self.con.executemany("INSERT INTO dup_links VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                     [(*link, now) for link in links])
            if done:
                self.con.executemany("UPDATE articles SET dedup_at = ? WHERE article_id = ?",
                                     [(now, a) for a in done])

    def reset_dedup(self) -> None:
        with self.transaction():
            self.con.execute("DELETE FROM dup_links")
            self.con.execute("UPDATE articles SET dedup_at = NULL")

    def cluster_inputs(self) -> tuple[list[tuple[str, str]], list[tuple[str, datetime | None, datetime]]]:
        """(pairs, members): the dup links, and every clusterable article with its dates."""
        _, pairs = self.query("SELECT article_a, article_b FROM dup_links ORDER BY 1, 2")
        _, members = self.query("SELECT article_id, published_at, first_seen_at FROM articles "
                                "WHERE status IN ('extracted', 'reference') ORDER BY 1")
        return [tuple(p) for p in pairs], [tuple(m) for m in members]

    def replace_clusters(self, rows: list[tuple[str, str, bool]]) -> None:
        with self.transaction():
            self.con.execute("DELETE FROM clusters")
            if rows:
                self.con.executemany("INSERT INTO clusters VALUES (?, ?, ?)", rows)

    def articles_to_score(self, story_id: str) -> list[dict[str, Any]]:
        cols, rows = self.query(
            "SELECT a.article_id, a.title, a.body, a.published_at, a.is_reference, a.reference_file "
            "FROM articles a WHERE a.status IN ('extracted', 'reference') AND a.body IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM story_scores s WHERE s.story_id = ? AND s.article_id = a.article_id) ORDER BY 1",
            [story_id])
        return [dict(zip(cols, r)) for r in rows]

    def save_scores(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self.transaction():
            self.con.executemany(
                f"INSERT INTO story_scores VALUES ({_marks(12)}) ON CONFLICT (story_id, article_id) DO UPDATE SET "
                "score = excluded.score, decision = excluded.decision, in_window = excluded.in_window, "
                "nearest_seed = excluded.nearest_seed, nearest_similarity = excluded.nearest_similarity, "
                "lexical = excluded.lexical, terms = excluded.terms, reasons = excluded.reasons, "
                "method = excluded.method, scored_at = excluded.scored_at", rows)

    def find_article(self, url: str, url_key: str) -> dict[str, Any] | None:
        """The article a URL leads to (by any known alias, else its fetched URL)."""
        cols, rows = self.query(
            "SELECT a.*, coalesce(o.name, a.outlet_id) AS outlet_name FROM articles a LEFT JOIN outlets o "
            "USING (outlet_id) WHERE a.article_id = coalesce((SELECT article_id FROM article_urls "
            "WHERE url_key = ?), (SELECT article_id FROM articles WHERE url = ? LIMIT 1))", [url_key, url])
        return dict(zip(cols, rows[0])) if rows else None

    def stored_scores(self, article_id: str) -> dict[str, dict[str, Any]]:
        cols, rows = self.query("SELECT * FROM story_scores WHERE article_id = ?", [article_id])
        return {r[0]: dict(zip(cols, r)) for r in rows}

    def cluster_members(self, article_id: str) -> list[dict[str, Any]]:
        """The article's cluster: every member with its outlet, origin flag and link relation."""
        cols, rows = self.query(
            "SELECT c.article_id, c.is_origin, a.title, a.url, coalesce(o.name, a.outlet_id) AS outlet, "
            "a.published_at FROM clusters c JOIN articles a USING (article_id) LEFT JOIN outlets o USING (outlet_id) "
            "WHERE c.cluster_id = (SELECT cluster_id FROM clusters WHERE article_id = ?) "
            "ORDER BY c.is_origin DESC, a.published_at NULLS LAST, c.article_id", [article_id])
        return [dict(zip(cols, r)) for r in rows]

    def sightings_of(self, article_id: str) -> list[tuple]:
        _, rows = self.query("SELECT s.source_id, src.kind, s.first_seen_at FROM sightings s "
                             "LEFT JOIN sources src USING (source_id) WHERE s.article_id = ? ORDER BY 3, 1",
                             [article_id])
        return rows

    def clear_scores(self, story_id: str | None = None) -> None:
        with self.transaction():
            if story_id:
                self.con.execute("DELETE FROM story_scores WHERE story_id = ?", [story_id])
            else:
                self.con.execute("DELETE FROM story_scores")


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


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def open_writer(path: Path) -> Store:
    """Open read-write, migrate and (re)apply views. The caller holds ``writer_lock``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise StoreError(f"cannot open warehouse {path}: {exc}") from exc
    store = Store(con, path)
    store.con.execute("SET TimeZone = 'UTC'")
    store.migrate()
    store.apply_views()
    return store


def open_reader(path: Path) -> Store:
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
    con.execute("SET TimeZone = 'UTC'")
    return Store(con, path)
