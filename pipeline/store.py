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
from datetime import date, datetime, timedelta
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

    def retryable(self, article_id: str, max_attempts: int) -> bool:
        """A failed page whose failure was transient and that has attempts left."""
        return bool(self.scalar("SELECT status = 'failed' AND coalesce(fail_transient, FALSE) AND attempts < ? "
                                "FROM articles WHERE article_id = ?", [max_attempts, article_id]))

    def failed_pages_of(self, source_id: str, max_attempts: int) -> list[tuple]:
        """(entry_key, url, title, published_at) of this source's pages worth another try."""
        _, rows = self.query(
            "SELECT s.entry_key, a.url, a.title, a.published_at FROM sightings s JOIN articles a USING (article_id) "
            "WHERE s.source_id = ? AND a.status = 'failed' AND a.fail_transient AND a.attempts < ? "
            "ORDER BY a.first_seen_at, s.entry_key", [source_id, max_attempts])
        return rows

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
                self._insert("INSERT INTO fetch_log VALUES", batch.fetch_log)
            if batch.source_state:
                self._save_source_state(batch.source_state)

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
        self.con.execute("DELETE FROM fingerprints WHERE article_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        self.con.execute("DELETE FROM lsh_bands WHERE article_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
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
        return sorted(self.candidates_of([article_id]).get(article_id, set()))

    def candidates_of(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """For each of ``ids``: the articles sharing an LSH band key or the exact content
        hash with it, in one set-based join (the band table is indexed by band key)."""
        _, rows = self.query(
            "WITH mine AS (SELECT unnest(?::VARCHAR[]) AS article_id) "
            "SELECT DISTINCT p.article_id, b.article_id FROM lsh_bands p "
            "JOIN mine USING (article_id) JOIN lsh_bands b ON b.band_key = p.band_key "
            "WHERE b.article_id <> p.article_id "
            "UNION "
            "SELECT p.article_id, o.article_id FROM articles p JOIN mine USING (article_id) "
            "JOIN articles o ON o.content_hash = p.content_hash AND o.article_id <> p.article_id "
            "WHERE o.status IN ('extracted', 'reference')", [list(ids)])
        found: dict[str, set[str]] = {}
        for me, other in rows:
            found.setdefault(me, set()).add(other)
        return found

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

    # -- digest outbox (issue 5) -------------------------------------------------------------
    # What a digest shows, and the outbox that makes it go out once
    # (warehouse/migrations/0003_digest_outbox.sql). Windows are (start, end]: an article
    # belongs to the digest whose window holds its first_seen_at.

    def has_relation(self, name: str) -> bool:
        """Whether a table or view of that name exists."""
        return bool(self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]))

    def _digest_inputs(self) -> str:
        """Two CTEs: ``raw``, one story's articles ($story), and ``sc``, the clusters of
        copies. The one fallback: a warehouse without the story views counts every
        extracted article, each its own cluster."""
        if self.has_relation("story_articles") and self.has_relation("syndication_clusters"):
            return ("raw AS (SELECT article_id, outlet_id, published_at, first_seen_at, event_at, cluster_id, "
                    "is_copy FROM story_articles WHERE story_id = $story AND decision = 'relevant'), "
                    "sc AS (SELECT cluster_id, origin_title, origin_outlet, origin_url, outlets "
                    "FROM syndication_clusters)")
        return ("raw AS (SELECT article_id, outlet_id, published_at, first_seen_at, "
                "coalesce(published_at, first_seen_at) AS event_at, article_id AS cluster_id, FALSE AS is_copy "
                "FROM articles WHERE status = 'extracted' AND $story IS NOT NULL), "
                "sc AS (SELECT NULL::VARCHAR AS cluster_id, NULL::VARCHAR AS origin_title, "
                "NULL::VARCHAR AS origin_outlet, NULL::VARCHAR AS origin_url, 0 AS outlets WHERE FALSE)")

    def _digest_query(self, body: str, params: dict[str, Any]) -> list[tuple]:
        """``body`` run over ``story`` (the story's articles with their outlet's name) and ``sc``."""
        sql = (f"WITH {self._digest_inputs()}, story AS (SELECT raw.*, "
               "coalesce(o.name, raw.outlet_id, '(unknown outlet)') AS outlet FROM raw "
               f"LEFT JOIN outlets o USING (outlet_id)) {body}")
        return self.con.execute(sql, params).fetchall()

    def digest_counts(self, story_id: str, start: datetime, end: datetime) -> tuple[int, int]:
        """(articles first seen inside the window, copies among them)."""
        [(articles, copies)] = self._digest_query(
            "SELECT count(*), count(*) FILTER (WHERE is_copy) FROM story "
            "WHERE first_seen_at > $start AND first_seen_at <= $end",
            {"story": story_id, "start": start, "end": end})
        return int(articles), int(copies)

    def digest_new_outlets(self, story_id: str, start: datetime, end: datetime) -> list[str]:
        """Outlets whose first article on the story was first seen inside the window."""
        rows = self._digest_query(
            "SELECT outlet FROM story WHERE first_seen_at <= $end GROUP BY outlet "
            "HAVING min(first_seen_at) > $start ORDER BY min(first_seen_at), outlet",
            {"story": story_id, "start": start, "end": end})
        return [r[0] for r in rows]

    def digest_clusters(self, story_id: str, start: datetime, end: datetime) -> list[tuple]:
        """(title, origin outlet, origin URL, outlets carrying it, [(outlet, URL) of the
        story's copies]) of every cluster with an article first seen inside the window. The
        origin comes from syndication_clusters (a lone article is its own); the outlets
        counted are those of the story's articles, the same ones the links list."""
        rows = self._digest_query(
            "SELECT coalesce(sc.origin_title, c.title, ''), coalesce(sc.origin_outlet, c.outlet), "
            "  coalesce(sc.origin_url, c.url), c.outlets AS n, c.links "
            "FROM (SELECT m.cluster_id, arg_min(a.title, m.rank) AS title, arg_min(m.outlet, m.rank) AS outlet,"
            "    arg_min(a.url, m.rank) AS url, count(DISTINCT m.outlet) AS outlets,"
            "    list([m.outlet, a.url] ORDER BY m.rank) FILTER (WHERE m.is_copy) AS links, min(m.at) AS first_at"
            "  FROM (SELECT s.*, coalesce(s.published_at, s.first_seen_at) AS at, row_number() OVER ("
            "      PARTITION BY s.cluster_id ORDER BY s.article_id <> s.cluster_id, s.is_copy,"
            "      coalesce(s.published_at, s.first_seen_at), s.article_id) AS rank"
            "    FROM story s WHERE s.first_seen_at <= $end AND s.cluster_id IN ("
            "      SELECT cluster_id FROM story WHERE first_seen_at > $start AND first_seen_at <= $end)) m"
            "  JOIN articles a USING (article_id) GROUP BY m.cluster_id) c "
            "LEFT JOIN sc USING (cluster_id) ORDER BY n DESC, c.first_at, c.cluster_id",
            {"story": story_id, "start": start, "end": end})
        return [(t, o, u, int(n), [tuple(link) for link in links or []]) for t, o, u, n, links in rows]

    def digest_by_outlet(self, story_id: str, end: datetime) -> list[tuple[str, int]]:
        """The story's articles per outlet, everything up to the window's end."""
        rows = self._digest_query("SELECT outlet, count(*) FROM story WHERE first_seen_at <= $end "
                                  "GROUP BY outlet ORDER BY 2 DESC, 1", {"story": story_id, "end": end})
        return [(r[0], int(r[1])) for r in rows]

    def digest_daily(self, story_id: str, end: datetime, tz: str, first: date, last: date) -> list[tuple[date, int]]:
        """The story's articles per day they appeared (``event_at``: published, else first
        seen; undated reference articles left out), as days of ``tz``, ``first`` to ``last``."""
        rows = self._digest_query(
            "SELECT day, count(*) FROM (SELECT CAST(timezone($tz, event_at) AS DATE) AS day FROM story "
            "WHERE first_seen_at <= $end) WHERE day BETWEEN $first AND $last GROUP BY day ORDER BY day",
            {"story": story_id, "end": end, "tz": tz, "first": first, "last": last})
        return [(r[0], int(r[1])) for r in rows]

    def failing_sources(self, story_id: str, end: datetime, min_age: timedelta) -> list[tuple]:
        """(source, URL, failing since, error kind, last error) of the active sources that
        have failed every poll for at least ``min_age`` before ``end`` (sources of other
        stories left out). "Since" is the first failed fetch after the last success."""
        _, rows = self.query(
            "SELECT s.source_id, s.url, min(f.fetched_at) AS since, coalesce(s.last_error_kind, 'error'), "
            "coalesce(s.last_error, '') "
            "FROM sources s JOIN fetch_log f ON f.source_id = s.source_id AND NOT f.ok AND f.fetched_at <= ? "
            "AND f.fetched_at > coalesce(s.last_success_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') "
            "WHERE s.active AND s.consecutive_failures > 0 AND (s.story_id IS NULL OR s.story_id = ?) "
            "GROUP BY ALL HAVING min(f.fetched_at) <= ? ORDER BY since, s.source_id",
            [end, story_id, end - min_age])
        return [tuple(r) for r in rows]

    def digest_window_start(self, story_id: str, recipient: str, day: date) -> datetime | None:
        """Where the recipient's digest for ``day`` starts: the end of their latest earlier
        digest that went out or may still go out (failed ones do not count: their news
        moves on to the next digest). None when there is none."""
        return self.scalar("SELECT max(window_end) FROM digest_outbox WHERE story_id = ? AND recipient = ? "
                           "AND day < ? AND state <> 'failed'", [story_id, recipient, day])

    def digest_state(self, story_id: str, day: date, recipient: str) -> str | None:
        return self.scalar("SELECT state FROM digest_outbox WHERE story_id = ? AND day = ? AND recipient = ?",
                           [story_id, day, recipient])

    def add_digest(self, row: dict[str, Any]) -> None:
        """A new outbox row in state pending (kept as it is when the key exists)."""
        cols = ["story_id", "day", "recipient", "message_id", "state", "window_start", "window_end",
                "message", "attempts", "created_at", "updated_at"]
        values = {**row, "state": "pending", "attempts": 0, "updated_at": row["created_at"]}
        self.con.execute(f"INSERT INTO digest_outbox ({', '.join(cols)}) VALUES ({_marks(len(cols))}) "
                         "ON CONFLICT DO NOTHING", [values[c] for c in cols])

    def mark_interrupted_digests(self, now: datetime) -> int:
        """Rows left 'sending' by a job that died mid-send become 'unknown': the server may
        have accepted the message. Call only while holding the writer lock."""
        count = int(self.scalar("SELECT count(*) FROM digest_outbox WHERE state = 'sending'"))
        if count:
            self.con.execute("UPDATE digest_outbox SET state = 'unknown', updated_at = ?, last_error = "
                             "'interrupted during the SMTP conversation; it may have been delivered' "
                             "WHERE state = 'sending'", [now])
        return count

    def digests_to_send(self, story_ids: Sequence[str], recipients: Sequence[str], day: date,
                        resend: bool) -> list[dict[str, Any]]:
        """Pending rows of any day; with ``resend`` also ``day``'s unknown and failed rows."""
        cols, rows = self.query(
            "SELECT story_id, day, recipient, message_id, state, message FROM digest_outbox "
            "WHERE list_contains(?, story_id) AND list_contains(?, recipient) "
            "AND (state = 'pending' OR (? AND day = ? AND state IN ('unknown', 'failed'))) "
            "ORDER BY day, story_id, recipient", [list(story_ids), list(recipients), resend, day])
        return [dict(zip(cols, r)) for r in rows]

    def set_digest_state(self, key: tuple[str, date, str], state: str, now: datetime, *,
                         error: str | None = None, reply: str | None = None) -> None:
        """Move an outbox row to ``state``; 'sending' counts an attempt, 'sent' stamps sent_at."""
        self.con.execute(
            "UPDATE digest_outbox SET state = ?, updated_at = ?, attempts = attempts + (? = 'sending')::INTEGER, "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, last_error = coalesce(?, last_error), "
            "server_reply = coalesce(?, server_reply) WHERE story_id = ? AND day = ? AND recipient = ?",
            [state, now, state, state, now, error, reply, *key])


    # -- discovery channels (issue 4): unresolved aggregator items ------------------------
    def unresolved_articles(self) -> list[dict[str, Any]]:
        """Aggregator items kept with their claims only, attributed to an outlet, with the
        outlet's name and the publisher name the aggregator gave."""
        cols, rows = self.query(
            "SELECT a.article_id, a.outlet_id, a.title, a.published_at, a.first_seen_at, "
            "o.name AS outlet_name, (SELECT min(s.publisher_name) FROM sightings s "
            "WHERE s.article_id = a.article_id) AS publisher_name "
            "FROM articles a LEFT JOIN outlets o USING (outlet_id) "
            "WHERE a.status = 'unresolved' AND a.outlet_id IS NOT NULL AND a.title IS NOT NULL "
            "ORDER BY a.first_seen_at, a.article_id")
        return [dict(zip(cols, r)) for r in rows]

    def outlet_articles_near(self, outlet_id: str, when: datetime, days: int) -> list[dict[str, Any]]:
        """The outlet's fetched articles dated within ``days`` of ``when`` (published, else
        first seen)."""
        cols, rows = self.query(
            "SELECT article_id, title, site_name FROM articles WHERE outlet_id = ? "
            "AND status = 'extracted' AND title IS NOT NULL AND abs(epoch(coalesce(published_at, "
            "first_seen_at)) - epoch(CAST(? AS TIMESTAMPTZ))) <= ? * 86400 ORDER BY article_id",
            [outlet_id, when, days])
        return [dict(zip(cols, r)) for r in rows]

    def merge_article(self, placeholder_id: str, article_id: str, now: datetime) -> None:
        """Point an unresolved placeholder's sightings and links at the real article and
        mark it 'merged' (kept as the record of the match), in one transaction."""
        with self.transaction():
            self.con.execute("UPDATE sightings SET article_id = ? WHERE article_id = ?",
                             [article_id, placeholder_id])
            self.con.execute("UPDATE article_urls SET article_id = ? WHERE article_id = ?",
                             [article_id, placeholder_id])
            self.con.execute("UPDATE articles SET status = 'merged', merged_into = ?, updated_at = ? "
                             "WHERE article_id = ?", [article_id, now, placeholder_id])


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


def _unique(rows: Sequence[Sequence[Any]], key_len: int) -> list[tuple]:
    """Rows with the same key (the first ``key_len`` values) collapse to the last one: one
    statement may not touch a row twice under ON CONFLICT DO UPDATE."""
    last: dict[tuple, tuple] = {}
    for r in rows:
        last[tuple(r[:key_len])] = tuple(r)
    return list(last.values())


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
