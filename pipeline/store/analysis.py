"""Queries of the story scores, near-duplicate links and clusters (issue 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from .core import Core, _marks


class AnalysisQueries(Core):
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

    def cluster_inputs(self) -> tuple[list[tuple[str, str, str, float | None]], list[tuple[str, datetime | None, datetime]]]:
        """(links, members): the dup links (a, b, relation, jaccard), and every clusterable
        article with its dates."""
        _, pairs = self.query("SELECT article_a, article_b, relation, jaccard FROM dup_links ORDER BY 1, 2")
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
            "SELECT a.article_id, a.title, coalesce(a.body, a.description, '') AS body, a.published_at, "
            "a.is_reference, a.reference_file "
            "FROM articles a WHERE (a.status IN ('extracted', 'reference') AND a.body IS NOT NULL "
            "OR a.status IN ('unresolved', 'failed')) AND NOT EXISTS "
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
