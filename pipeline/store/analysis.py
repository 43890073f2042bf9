"""Queries of the story scores, near-duplicate links and clusters (issue 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence

from .core import Core

SCORE_CHUNK = 5000  # score rows per statement: bounded parameter lists
# Band rows one scan of lsh_bands may read per band key asked before the index is cheaper.
# Measured (bench/bench_dedup_scale.py's warehouses): an index lookup costs 27-44 us a
# key at 100k articles (IN-lists of 200-1,000 keys), 125-230 us at 1M (64M rows, index
# read from disk); a scan with a hash semi-join 4 ns a row warm, 11 ns cold (0.23 / 0.73 s
# at 1M). Break-even lies between 2,500 and 60,000 rows a key.
SCAN_ROWS_PER_KEY = 10_000


class AnalysisQueries(Core):
    # -- stories, near-duplicates, clusters (issue 3) --------------------------------------
    def articles_to_dedup(self) -> list[dict[str, Any]]:
        """Extracted and reference articles whose near-duplicates were not checked yet."""
        cols, rows = self.query(
            "SELECT article_id, status, body, word_count, content_hash, outlet_id, title, site_name, published_at, "
            "first_seen_at, declared_canonical FROM articles WHERE status IN ('extracted', 'reference') "
            "AND dedup_at IS NULL AND body IS NOT NULL ORDER BY first_seen_at, article_id")
        return [dict(zip(cols, r)) for r in rows]

    def signatures(self, ids: Sequence[str]) -> dict[str, list[int]]:
        """The stored MinHash signature of each of ``ids`` (primary-key lookups)."""
        return dict(self.rows_in("SELECT article_id, minhash FROM fingerprints WHERE article_id IN ({})", ids))

    def candidates_of(self, band_keys: dict[str, Sequence[int]],
                      hashes: dict[str, str | None]) -> dict[str, set[str]]:
        """For each article: the articles sharing one of its LSH band keys (``band_keys``)
        or its exact content hash (``hashes``). Both are index lookups (migration 0012), so
        the cost follows the number of keys asked, not the size of the warehouse."""
        holders: dict[int, set[str]] = {}
        for key, other in self._band_holders(sorted({k for keys in band_keys.values() for k in keys})):
            holders.setdefault(key, set()).add(other)
        same_text: dict[str, set[str]] = {}
        for digest, other in self.rows_in(
                "SELECT content_hash, article_id FROM articles WHERE content_hash IN ({}) "
                "AND status IN ('extracted', 'reference')", sorted({h for h in hashes.values() if h})):
            same_text.setdefault(digest, set()).add(other)
        found: dict[str, set[str]] = {}
        for me in band_keys.keys() | hashes.keys():
            near = set().union(*(holders.get(k, ()) for k in band_keys.get(me, ())))
            near |= same_text.get(hashes.get(me) or "", set())
            if near - {me}:
                found[me] = near - {me}
        return found

    def _band_holders(self, keys: list[int]) -> list[tuple[int, str]]:
        """(band_key, article_id) rows holding one of ``keys``: through the index, or by
        one scan of ``lsh_bands`` when that is cheaper (``SCAN_ROWS_PER_KEY``), so the cost
        never exceeds the index's, which does not grow with the warehouse."""
        rows = self.scalar("SELECT estimated_size FROM duckdb_tables() WHERE table_name = 'lsh_bands' "
                           "AND database_name = current_database() AND schema_name = 'main'") or 0
        if keys and rows <= SCAN_ROWS_PER_KEY * len(keys):
            return self.con.execute("SELECT band_key, article_id FROM lsh_bands WHERE band_key IN "
                                    "(SELECT unnest(?::BIGINT[]))", [keys]).fetchall()
        return self.rows_in("SELECT band_key, article_id FROM lsh_bands WHERE band_key IN ({})", keys)

    def save_dup_links(self, links: list[tuple], done: list[str], now: datetime) -> None:
        """Confirmed pairs (a, b, relation, jaccard, containment) and the articles checked,
        in one transaction of set-based statements."""
        with self.transaction():
            if links:
                a, b, relation, jaccard, containment = (list(c) for c in zip(*links))
                self.con.execute("INSERT INTO dup_links SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                                 "unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), ? "
                                 "ON CONFLICT DO NOTHING", [a, b, relation, jaccard, containment, now])
            self.update_in("UPDATE articles SET dedup_at = ? WHERE article_id IN ({})", [now], done)
            if done:
                self.con.execute("INSERT INTO cluster_queue SELECT unnest(?::VARCHAR[]) ON CONFLICT DO NOTHING",
                                 [list(done)])

    def reset_dedup(self) -> None:
        with self.transaction():
            self.con.execute("DELETE FROM dup_links")
            self.con.execute("DELETE FROM title_keys")
            self.con.execute("DELETE FROM cluster_queue")
            self.con.execute("UPDATE articles SET dedup_at = NULL")

    def articles_to_score(self, story_id: str, chunk: int = 2000) -> Iterator[list[dict[str, Any]]]:
        """Articles without a score for the story, a chunk at a time (the caller saves each
        chunk's scores before asking for the next, so texts are never all in memory)."""
        after = ""
        while True:
            cols, rows = self.query(
                "SELECT a.article_id, a.title, coalesce(a.body, a.description, '') AS body, a.published_at, "
                "a.is_reference, a.reference_file "
                "FROM articles a WHERE a.article_id > ? AND (a.status IN ('extracted', 'reference') "
                "AND a.body IS NOT NULL OR a.status IN ('unresolved', 'failed')) AND NOT EXISTS "
                "(SELECT 1 FROM story_scores s WHERE s.story_id = ? AND s.article_id = a.article_id) "
                "ORDER BY 1 LIMIT ?", [after, story_id, chunk])
            if not rows:
                return
            yield [dict(zip(cols, r)) for r in rows]
            after = rows[-1][0]

    def save_scores(self, rows: list[tuple]) -> None:
        """Score rows (the 12 columns of story_scores), in one set-based statement per
        few thousand rows and one transaction."""
        if not rows:
            return
        types = ["VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR", "BOOLEAN", "VARCHAR", "DOUBLE", "DOUBLE",
                 "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ"]
        select = ", ".join(f"unnest(?::{t}[])" for t in types)
        with self.transaction():
            for start in range(0, len(rows), SCORE_CHUNK):
                columns = [list(c) for c in zip(*rows[start:start + SCORE_CHUNK])]
                self.con.execute(
                    f"INSERT INTO story_scores SELECT {select} ON CONFLICT (story_id, article_id) DO UPDATE SET "
                    "score = excluded.score, decision = excluded.decision, in_window = excluded.in_window, "
                    "nearest_seed = excluded.nearest_seed, nearest_similarity = excluded.nearest_similarity, "
                    "lexical = excluded.lexical, terms = excluded.terms, reasons = excluded.reasons, "
                    "method = excluded.method, scored_at = excluded.scored_at", columns)

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

    # -- judgments (issue 11: corrections that teach) ------------------------------------
    def save_judgment(self, row: tuple) -> None:
        """One judgment (story, article, label, judged_at, judged_by, url, note), and the
        article's stored score for the story dropped so the next scoring writes it anew."""
        with self.transaction():
            self.con.execute("INSERT INTO judgments (story_id, article_id, label, judged_at, judged_by, url, note) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", list(row))
            self.con.execute("DELETE FROM story_scores WHERE story_id = ? AND article_id = ?", [row[0], row[1]])

    def judged(self, story_id: str) -> list[dict[str, Any]]:
        """The latest judgment of every article judged for the story, with the article's text
        and date, in article order (examples are built from them deterministically). None
        on a warehouse older than migration 0014 opened read-only."""
        if not self.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'judgments'")[1]:
            return []
        cols, rows = self.query(
            "SELECT j.article_id, j.label, j.judged_at, j.judged_by, j.note, a.url, a.title, "
            "coalesce(a.body, a.description, '') AS body, a.published_at FROM judgments j "
            "JOIN articles a USING (article_id) WHERE j.story_id = ? "
            "QUALIFY row_number() OVER (PARTITION BY j.article_id ORDER BY j.judged_at DESC, j.judgment_id DESC) = 1 "
            "ORDER BY j.article_id", [story_id])
        return [dict(zip(cols, r)) for r in rows]
